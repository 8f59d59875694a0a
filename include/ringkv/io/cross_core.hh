#pragma once
// co_await submit_to(core, fn): runs fn() on `core` and resumes the caller
// with its result. fn must not suspend; it runs on the target's thread, so it
// may touch only that core's data and whatever it captured by value (or by
// reference to the caller's frame, which stays alive while it waits).
// When `core` is the caller's own, fn runs inline with no message at all.
//
// The call object travels out and back in the same message: the target runs
// fn, stores the result in it and sends it home, where run() resumes the
// caller. Mailboxes are bounded; a full one parks the message (back-pressure,
// never a drop).

#include <ringkv/io/completion.hh>
#include <ringkv/io/loop.hh>

#include <coroutine>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace ringkv::io {

template <typename Function>
class [[nodiscard]] cross_call final : public message {
    using raw_result = std::invoke_result_t<Function&>;
    struct nothing {};
    using result = std::conditional_t<std::is_void_v<raw_result>, nothing, raw_result>;

public:
    cross_call(unsigned target, Function function)
        : _target(target), _function(std::move(function)) {}

    bool await_ready() {
        if (_target != loop::current().core()) return false;
        invoke();
        return true;
    }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        _home = loop::current().core();
        loop::current().call_sent();
        loop::current().send(_target, *this);
    }
    raw_result await_resume() {
        if constexpr (!std::is_void_v<raw_result>) return std::move(*_result);
    }

    void run() override {
        if (!_answered) {  // on the target
            invoke();
            _answered = true;
            loop::current().send(_home, *this);
        } else {  // back home
            loop::current().reply_received();
            _waiter.resume();
        }
    }

private:
    void invoke() {
        if constexpr (std::is_void_v<raw_result>) {
            _function();
            _result.emplace();
        } else {
            _result.emplace(_function());
        }
    }

    const unsigned _target;
    unsigned _home = 0;
    bool _answered = false;
    Function _function;
    std::optional<result> _result;
    std::coroutine_handle<> _waiter;
};

template <typename Function>
cross_call<Function> submit_to(unsigned core, Function function) {
    return cross_call<Function>{core, std::move(function)};
}

// co_await submit_to_all(function): runs function(core) on every core at
// once (a message to each other core, inline on this one) and resumes the
// caller when all have answered. function returns nothing and runs on
// several threads at the same time: each call may write only what belongs
// to its core (say, its own slot of an output array the caller keeps alive).
template <typename Function>
class [[nodiscard]] fan_out_call final {
public:
    explicit fan_out_call(Function function) : _function(std::move(function)) {}

    bool await_ready() { return false; }
    bool await_suspend(std::coroutine_handle<> waiter) {
        loop& here = loop::current();
        const unsigned cores = here.core_count();
        _waiter = waiter;
        if (cores > 1) _legs = std::make_unique<leg[]>(cores);  // one per listing-sized request, not per key
        for (unsigned target = 0; target < cores; ++target) {
            if (target == here.core()) continue;
            leg& l = _legs[target];
            l.parent = this;
            l.target = target;
            l.home = here.core();
            ++_pending;
            here.call_sent();
            here.send(target, l);
        }
        _function(here.core());  // replies cannot run before this returns: same thread
        return _pending > 0;
    }
    void await_resume() {}

private:
    struct leg final : message {
        fan_out_call* parent = nullptr;
        unsigned target = 0;
        unsigned home = 0;
        bool answered = false;
        void run() override {
            if (!answered) {  // on the target
                parent->_function(target);
                answered = true;
                loop::current().send(home, *this);
            } else {  // back home
                loop::current().reply_received();
                if (--parent->_pending == 0) parent->_waiter.resume();
            }
        }
    };

    Function _function;
    std::unique_ptr<leg[]> _legs;
    unsigned _pending = 0;
    std::coroutine_handle<> _waiter;
};

template <typename Function>
fan_out_call<Function> submit_to_all(Function function) {
    return fan_out_call<Function>{std::move(function)};
}

}  // namespace ringkv::io
