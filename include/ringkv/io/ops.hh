#pragma once
// Awaitable io_uring operations. `co_await recv(fd, buffer)` prepares one SQE
// whose user_data is the awaitable itself (it lives in the awaiting
// coroutine's frame until the CQE arrives) and yields the CQE's result:
// bytes, or -errno. Errors are values; nothing here throws.

#include <ringkv/io/completion.hh>
#include <ringkv/io/loop.hh>

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <coroutine>
#include <cstdint>
#include <span>

namespace ringkv::io {

template <typename Prepare>
class [[nodiscard]] operation final : public completion {
public:
    // slot, when given, holds the operation's address while it is in flight
    // so its owner can cancel it (see cancel()).
    explicit operation(Prepare prepare, completion** slot = nullptr)
        : _prepare(prepare), _slot(slot) {}
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        io_uring_sqe* entry = loop::current().sqe();
        _prepare(entry);
        io_uring_sqe_set_data(entry, static_cast<completion*>(this));
        if (_slot != nullptr) *_slot = this;
    }
    std::int32_t await_resume() const noexcept { return _result; }

    void complete(std::int32_t result, std::uint32_t) override {
        if (_slot != nullptr) *_slot = nullptr;
        _result = result;
        _waiter.resume();
    }

private:
    Prepare _prepare;
    completion** _slot;
    std::coroutine_handle<> _waiter;
    std::int32_t _result = 0;
};

// Until the socket is readable, without a buffer (a connection waiting for
// its first bytes holds none).
inline auto poll_readable(int fd, completion** slot = nullptr) {
    auto prepare = [fd](io_uring_sqe* e) { io_uring_prep_poll_add(e, fd, POLLIN); };
    return operation<decltype(prepare)>{prepare, slot};
}

inline auto recv(int fd, std::span<char> into, completion** slot = nullptr) {
    auto prepare = [fd, into](io_uring_sqe* e) {
        io_uring_prep_recv(e, fd, into.data(), into.size(), 0);
    };
    return operation<decltype(prepare)>{prepare, slot};
}

inline auto send(int fd, std::span<const char> from, completion** slot = nullptr) {
    auto prepare = [fd, from](io_uring_sqe* e) {
        io_uring_prep_send(e, fd, from.data(), from.size(), MSG_NOSIGNAL);
    };
    return operation<decltype(prepare)>{prepare, slot};
}

// msghdr (and the iovecs it points to) must stay alive until resumption.
inline auto sendmsg(int fd, const msghdr* header, completion** slot = nullptr) {
    auto prepare = [fd, header](io_uring_sqe* e) { io_uring_prep_sendmsg(e, fd, header, MSG_NOSIGNAL); };
    return operation<decltype(prepare)>{prepare, slot};
}

// Resumes after `ns` nanoseconds: an io_uring timeout, so the core serves
// others meanwhile. The result is -ETIME when the time ran out, -ECANCELED
// when cancel() cut it short.
inline auto sleep_ns(std::uint64_t ns, completion** slot = nullptr) {
    __kernel_timespec span{};
    span.tv_sec = static_cast<long long>(ns / 1'000'000'000);
    span.tv_nsec = static_cast<long long>(ns % 1'000'000'000);
    // The kernel reads the timespec when the entry is submitted, later than
    // prepare() runs: it must live in the operation (this lambda's copy,
    // kept in the awaiting coroutine's frame), not on a stack.
    auto prepare = [span](io_uring_sqe* e) mutable { io_uring_prep_timeout(e, &span, 0, 0); };
    return operation<decltype(prepare)>{prepare, slot};
}

// Until the peer closes (or errs) or `ns` nanoseconds pass, whichever is
// first: a poll for POLLRDHUP linked to a timeout. It polls without reading,
// so bytes a pipelining client sent meanwhile stay in the socket. The result
// is the poll's event mask (> 0) when the peer went away, -ECANCELED when the
// time ran out or cancel() cut it short.
class [[nodiscard]] hangup_within final : public completion {
public:
    hangup_within(int fd, std::uint64_t ns, completion** slot = nullptr) : _fd(fd), _slot(slot) {
        _span.tv_sec = static_cast<long long>(ns / 1'000'000'000);
        _span.tv_nsec = static_cast<long long>(ns % 1'000'000'000);
    }
    hangup_within(const hangup_within&) = delete;
    hangup_within& operator=(const hangup_within&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        loop& here = loop::current();
        here.reserve_sqes(2);  // a link split across two submissions would lose its timeout
        io_uring_sqe* poll = here.sqe();
        io_uring_prep_poll_add(poll, _fd, POLLRDHUP);
        poll->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data(poll, static_cast<completion*>(this));
        io_uring_sqe* timeout = here.sqe();
        io_uring_prep_link_timeout(timeout, &_span, 0);
        io_uring_sqe_set_data64(timeout, 0);  // no callback: the poll's result says it all
        if (_slot != nullptr) *_slot = this;
    }
    std::int32_t await_resume() const noexcept { return _result; }

    void complete(std::int32_t result, std::uint32_t) override {
        if (_slot != nullptr) *_slot = nullptr;
        _result = result;
        _waiter.resume();
    }

private:
    int _fd;
    completion** _slot;
    __kernel_timespec _span{};  // read by the kernel at submission: lives in the awaiting frame
    std::coroutine_handle<> _waiter;
    std::int32_t _result = 0;
};

inline auto shutdown(int fd, int how) {
    auto prepare = [fd, how](io_uring_sqe* e) { io_uring_prep_shutdown(e, fd, how); };
    return operation<decltype(prepare)>{prepare};
}

inline auto close(int fd) {
    auto prepare = [fd](io_uring_sqe* e) { io_uring_prep_close(e, fd); };
    return operation<decltype(prepare)>{prepare};
}

// Asks the kernel to cancel an in-flight operation; its owner sees
// -ECANCELED (or the real result, if it finished first). Fire and forget.
void cancel(completion& target);

}  // namespace ringkv::io
