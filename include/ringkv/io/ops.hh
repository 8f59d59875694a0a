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
#include <type_traits>

namespace ringkv::io {

// ns nanoseconds as the kernel's timespec. The kernel reads it when the
// entry is submitted, later than the entry is prepared: it must live in the
// awaiting coroutine's frame (in the operation), not on a stack.
inline __kernel_timespec timespec_of(std::uint64_t ns) {
    __kernel_timespec span{};
    span.tv_sec = static_cast<long long>(ns / 1'000'000'000);
    span.tv_nsec = static_cast<long long>(ns % 1'000'000'000);
    return span;
}

// How long an operation may take: no limit, or a timeout linked to its entry
// (IOSQE_IO_LINK), which cancels it when the time runs out first; the
// operation then completes with -ECANCELED.
struct no_time_limit {};
struct time_limit {
    explicit time_limit(std::uint64_t ns) : span(timespec_of(ns)) {}
    __kernel_timespec span;
};

template <typename Prepare, typename Limit = no_time_limit>
class [[nodiscard]] operation final : public completion {
public:
    // slot, when given, holds the operation's address while it is in flight
    // so its owner can cancel it (see cancel()).
    explicit operation(Prepare prepare, completion** slot = nullptr)
        : _prepare(prepare), _slot(slot) {}
    operation(Prepare prepare, Limit limit, completion** slot = nullptr)
        : _prepare(prepare), _slot(slot), _limit(limit) {}
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        loop& here = loop::current();
        constexpr bool limited = std::is_same_v<Limit, time_limit>;
        if constexpr (limited) here.reserve_sqes(2);  // a link split across two submissions would lose its timeout
        io_uring_sqe* entry = here.sqe();
        _prepare(entry);
        io_uring_sqe_set_data(entry, static_cast<completion*>(this));
        if constexpr (limited) {
            entry->flags |= IOSQE_IO_LINK;
            io_uring_sqe* timeout = here.sqe();
            io_uring_prep_link_timeout(timeout, &_limit.span, 0);
            io_uring_sqe_set_data64(timeout, 0);  // no callback: the operation's result says it all
        }
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
    [[no_unique_address]] Limit _limit{};
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
    // The lambda's copy of the timespec lives in the operation (see timespec_of).
    auto prepare = [span = timespec_of(ns)](io_uring_sqe* e) mutable { io_uring_prep_timeout(e, &span, 0, 0); };
    return operation<decltype(prepare)>{prepare, slot};
}

// Until the peer closes (or errs) or `ns` nanoseconds pass, whichever is
// first: a poll for POLLRDHUP linked to a timeout. It polls without reading,
// so bytes a pipelining client sent meanwhile stay in the socket. The result
// is the poll's event mask (> 0) when the peer went away, -ECANCELED when the
// time ran out or cancel() cut it short.
inline auto hangup_within(int fd, std::uint64_t ns, completion** slot = nullptr) {
    auto prepare = [fd](io_uring_sqe* e) { io_uring_prep_poll_add(e, fd, POLLRDHUP); };
    return operation<decltype(prepare), time_limit>{prepare, time_limit{ns}, slot};
}

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
