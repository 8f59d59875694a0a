// ringkv-canned: the floor of bench/tail.sh. An io_uring HTTP/1.1 server
// that answers every request with the same canned 200, set up the way
// ringkv's loops are (one thread per core, pinned, each with its own
// SO_REUSEPORT listener and its own SINGLE_ISSUER | DEFER_TASKRUN ring,
// recv then send per connection) but with no parsing, no store, no
// timers and no allocation after accept. What ringkv's tail shows beyond
// this server's, under the same load on the same cores, is ringkv's own.
//
// Usage: ringkv-canned --port N [--threads N] [--body-bytes N]
// Requests must have no body (GETs): a request ends at its blank line.
// Runs until killed.
#include <liburing.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr unsigned ring_entries = 4096;
constexpr std::size_t receive_bytes = 16 * 1024;
// Answers sent in one send at most: a deeper pipeline is answered in
// several sends, so a connection's send buffer stays bounded.
constexpr std::size_t answers_per_send_max = 64;
constexpr int listen_backlog = 4096;

struct settings {
    std::uint16_t port = 0;
    unsigned threads = 1;
    std::size_t body_bytes = 64;
};

// One accepted connection: its buffers are allocated once, at accept. Their
// number is bounded by the process's open-file limit only: this server
// faces the benchmark's own client on loopback, never the network.
struct connection {
    int fd = -1;
    std::size_t terminator_matched = 0;  // bytes of "\r\n\r\n" seen at the end of the last read
    std::size_t owed = 0;                // complete requests not yet answered
    std::size_t sent = 0;                // bytes of `out` already sent
    std::string out;
    char in[receive_bytes];
};

enum class op : std::uint64_t { accept = 0, recv = 1, send = 2 };

// user_data: the connection's address with the operation in its low bits
// (connections are at least 8-byte aligned).
std::uint64_t tag(connection* c, op o) { return reinterpret_cast<std::uint64_t>(c) | std::uint64_t(o); }
connection* connection_of(std::uint64_t data) { return reinterpret_cast<connection*>(data & ~std::uint64_t(7)); }
op op_of(std::uint64_t data) { return op(data & 7); }

// Counts requests ended in `bytes`, carrying a partly seen "\r\n\r\n"
// over to the next read.
std::size_t count_requests(connection& c, std::string_view bytes) {
    static constexpr std::string_view terminator = "\r\n\r\n";
    std::size_t complete = 0;
    for (const char ch : bytes) {
        if (ch == terminator[c.terminator_matched]) {
            if (++c.terminator_matched == terminator.size()) {
                ++complete;
                c.terminator_matched = 0;
            }
        } else {
            c.terminator_matched = ch == '\r' ? 1 : 0;
        }
    }
    return complete;
}

class server {
public:
    server(int listen_fd, std::string reply) : _listen_fd(listen_fd), _reply(std::move(reply)) {
        io_uring_params params{};
        // As ringkv's loop sets them: a completion ring twice the size (the
        // multishot accept may post many), one submitting thread, and
        // completion work run when the loop waits, not on interrupts.
        params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        params.cq_entries = ring_entries * 2;
        const int error = io_uring_queue_init_params(ring_entries, &_ring, &params);
        if (error < 0) {
            std::fprintf(stderr, "ringkv-canned: io_uring_queue_init: %s\n", std::strerror(-error));
            std::exit(1);
        }
    }

    void run() {
        arm_accept();
        for (;;) {
            io_uring_submit_and_wait(&_ring, 1);
            io_uring_cqe* cqe = nullptr;
            unsigned head = 0;
            unsigned seen = 0;
            io_uring_for_each_cqe(&_ring, head, cqe) {
                complete(cqe->user_data, cqe->res, cqe->flags);
                ++seen;
            }
            io_uring_cq_advance(&_ring, seen);
        }
    }

private:
    io_uring_sqe* sqe() {
        io_uring_sqe* e = io_uring_get_sqe(&_ring);
        if (e == nullptr) {
            io_uring_submit(&_ring);
            e = io_uring_get_sqe(&_ring);
        }
        return e;
    }

    void arm_accept() {
        io_uring_sqe* e = sqe();
        io_uring_prep_multishot_accept(e, _listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(e, tag(nullptr, op::accept));
    }

    void arm_recv(connection& c) {
        io_uring_sqe* e = sqe();
        io_uring_prep_recv(e, c.fd, c.in, sizeof(c.in), 0);
        io_uring_sqe_set_data64(e, tag(&c, op::recv));
    }

    void arm_send(connection& c) {
        io_uring_sqe* e = sqe();
        io_uring_prep_send(e, c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(e, tag(&c, op::send));
    }

    void complete(std::uint64_t data, std::int32_t result, std::uint32_t flags) {
        connection* c = connection_of(data);
        switch (op_of(data)) {
            case op::accept:
                if (result >= 0) on_accept(result);
                if ((flags & IORING_CQE_F_MORE) == 0) arm_accept();
                return;
            case op::recv:
                if (result <= 0) return close(c);
                c->owed += count_requests(*c, {c->in, std::size_t(result)});
                return answer_or_read(*c);
            case op::send:
                if (result <= 0) return close(c);
                c->sent += std::size_t(result);
                if (c->sent < c->out.size()) return arm_send(*c);
                return answer_or_read(*c);
        }
    }

    void on_accept(int fd) {
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        auto* c = new connection;  // once per connection, never per request
        c->fd = fd;
        c->out.reserve(_reply.size() * answers_per_send_max);
        arm_recv(*c);
    }

    void answer_or_read(connection& c) {
        if (c.owed == 0) return arm_recv(c);
        const std::size_t answers = c.owed < answers_per_send_max ? c.owed : answers_per_send_max;
        c.owed -= answers;
        c.out.clear();
        for (std::size_t i = 0; i < answers; ++i) c.out += _reply;
        c.sent = 0;
        arm_send(c);
    }

    static void close(connection* c) {
        ::close(c->fd);
        delete c;
    }

    io_uring _ring{};
    int _listen_fd;
    const std::string _reply;
};

int listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, listen_backlog) != 0) {
        std::fprintf(stderr, "ringkv-canned: cannot listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
        std::exit(1);
    }
    return fd;
}

// The shape of ringkv's answer to a GET of a stored value.
std::string canned_reply(std::size_t body_bytes) {
    return "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: " + std::to_string(body_bytes) + "\r\n\r\n" + std::string(body_bytes, 'v');
}

bool parse_number(std::string_view text, auto& out) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc{} && end == text.data() + text.size();
}

bool parse(int argc, char** argv, settings& s) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i], value = argv[i + 1];
        bool ok = false;
        if (flag == "--port") ok = parse_number(value, s.port) && s.port != 0;
        else if (flag == "--threads") ok = parse_number(value, s.threads) && s.threads >= 1 && s.threads <= 256;
        else if (flag == "--body-bytes") ok = parse_number(value, s.body_bytes) && s.body_bytes <= 65536;
        if (!ok) return false;
    }
    return argc % 2 == 1 && s.port != 0;
}

// Pins the calling thread to the index-th CPU this process may use, as
// ringkv pins its loops.
void pin_to(unsigned index) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
    unsigned seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ != index) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
        return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    if (!parse(argc, argv, s)) {
        std::fputs("Usage: ringkv-canned --port N [--threads N] [--body-bytes N]\n", stderr);
        return 2;
    }
    const std::string reply = canned_reply(s.body_bytes);
    std::vector<int> listeners;
    for (unsigned i = 0; i < s.threads; ++i) listeners.push_back(listen_on(s.port));
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < s.threads; ++i) {
        threads.emplace_back([i, &listeners, &reply] {
            pin_to(i);
            server(listeners[i], reply).run();
        });
    }
    pin_to(0);
    server(listeners[0], reply).run();
}
