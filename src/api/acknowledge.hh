#pragma once
// co_await acknowledged(core, ticket): waits until a write `core` recorded
// in its change log may be acknowledged (its record fsync'd under --log
// always, or a snapshot's cut finished); true, or false when the log could
// not be written (the caller answers 507). A ticket of 0 needs no wait.
//
// When `core` is another, the awaitable travels there as a message, waits
// in the log's list, and comes home as a message: the log is touched only
// by its own core. It lives in the awaiting coroutine's frame throughout.

#include <ringkv/api/service.hh>
#include <ringkv/io/completion.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/net/http/error_response.hh>
#include <ringkv/store/change_log.hh>

#include <coroutine>

namespace ringkv::api {

// The 507 for a change whose record --data-dir cannot take: the disk is
// full, the log is behind the writes by its whole buffer (a disk slower
// than them), or the server is stopping under --log off past its last
// snapshot. Nothing was changed; reads still work.
inline void write_storage_full(net::http::response_writer& writer) {
    net::http::write_error(writer, {507, net::http::error_code::bad_request,
                                    "the server cannot keep this change in its data directory (the disk is full "
                                    "or behind the writes, or the server is stopping under --log off); nothing "
                                    "was changed"});
}

class [[nodiscard]] acknowledged final : public io::message, public store::change_log::waiter {
public:
    acknowledged(unsigned core, store::change_log::ticket ticket) : _core(core), _ticket(ticket) {}

    bool await_ready() const { return _ticket == 0; }
    bool await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        _home = io::loop::current().core();
        if (_core == _home) return core_state::local().changes->wait(_ticket, *this);
        io::loop::current().send(_core, *this);
        return true;
    }
    bool await_resume() const { return _ok; }

    void run() override {
        if (!_answered) {  // on the log's core
            if (!core_state::local().changes->wait(_ticket, *this)) ready(true);
        } else {  // home again
            _waiter.resume();
        }
    }
    void ready(bool ok) override {
        _ok = ok;
        if (_core == _home) {
            _waiter.resume();
            return;
        }
        _answered = true;
        io::loop::current().send(_home, *this);
    }

private:
    const unsigned _core;
    const store::change_log::ticket _ticket;
    unsigned _home = 0;
    bool _answered = false;
    bool _ok = true;
    std::coroutine_handle<> _waiter;
};

}  // namespace ringkv::api
