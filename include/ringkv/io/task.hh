#pragma once
// task<T>: a lazy coroutine that starts when awaited and resumes its awaiter
// by symmetric transfer when done. spawn() starts a task<> nobody awaits
// (a connection), which frees itself at the end.
//
// Exceptions are not part of the request path: an exception escaping a task
// terminates the process (errors are values, STYLE.md habit 7).
//
// Never write a coroutine as a capturing lambda: the captures live in the
// lambda object, which dies before the coroutine does. Pass state as
// parameters (see Seastar's doc/lambda-coroutine-fiasco.md).

#include <ringkv/io/frame_pool.hh>

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace ringkv::io {

template <typename T>
class task;

namespace detail {

struct promise_base {
    std::coroutine_handle<> continuation = std::noop_coroutine();

    static void* operator new(std::size_t bytes) { return frame_pool::allocate(bytes); }
    static void operator delete(void* frame, std::size_t bytes) noexcept {
        frame_pool::deallocate(frame, bytes);
    }

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
            return done.promise().continuation;
        }
        void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct promise final : promise_base {
    std::optional<T> value;
    task<T> get_return_object() noexcept;
    template <typename U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
};

template <>
struct promise<void> final : promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] task {
public:
    using promise_type = detail::promise<T>;
    using handle = std::coroutine_handle<promise_type>;

    explicit task(handle h) noexcept : _coroutine(h) {}
    task(task&& other) noexcept : _coroutine(std::exchange(other._coroutine, {})) {}
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    task& operator=(task&&) = delete;
    ~task() {
        if (_coroutine) _coroutine.destroy();
    }

    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
        _coroutine.promise().continuation = awaiter;
        return _coroutine;
    }
    T await_resume() {
        if constexpr (!std::is_void_v<T>) return std::move(*_coroutine.promise().value);
    }

    // For spawn(): hands the coroutine over to its new owner.
    handle release() noexcept { return std::exchange(_coroutine, {}); }

private:
    handle _coroutine;
};

namespace detail {
template <typename T>
task<T> promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}

// The frame of a spawned task: starts it at once and destroys it when done.
struct detached {
    struct promise_type {
        static void* operator new(std::size_t bytes) { return frame_pool::allocate(bytes); }
        static void operator delete(void* frame, std::size_t bytes) noexcept {
            frame_pool::deallocate(frame, bytes);
        }
        detached get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
    };
};

inline detached run_detached(task<> work) { co_await std::move(work); }
}  // namespace detail

// Starts `work` now; it runs until its first suspension before spawn returns.
inline void spawn(task<> work) { detail::run_detached(std::move(work)); }

}  // namespace ringkv::io
