#include <ringkv/net/server.hh>

#include "connection.hh"

#include <ringkv/base/limits.hh>
#include <ringkv/io/ops.hh>
#include <ringkv/net/http/error_response.hh>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringkv::net {
namespace {

constexpr int listen_backlog = 4096;

std::string bind_one(const sockaddr_in& address, bool reuse_port, int& fd_out) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        const int error = errno;
        ::close(fd);
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
        return std::string("cannot bind ") + text + ":" + std::to_string(ntohs(address.sin_port)) + ": " +
               (error == EADDRINUSE ? "port already in use" : std::strerror(error));
    }
    fd_out = fd;
    return {};
}

}  // namespace

std::string listeners::open(const server_options& options, unsigned count) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(options.port);
    if (inet_pton(AF_INET, options.bind_address.c_str(), &address.sin_addr) != 1) {
        return "bad --bind address '" + options.bind_address + "' (expected an IPv4 address)";
    }
    if (options.port != 0) {
        // SO_REUSEPORT would let us share the port with another ringkv of the
        // same user without a word; bind once without it to find out first.
        int probe = -1;
        std::string error = bind_one(address, false, probe);
        if (!error.empty()) return error;
        ::close(probe);
    }
    for (unsigned core = 0; core < count; ++core) {
        int fd = -1;
        std::string error = bind_one(address, true, fd);
        if (!error.empty()) return error;
        _fds.push_back(fd);
        if (core == 0) {  // port 0: the others join the port the kernel chose
            sockaddr_in bound{};
            socklen_t length = sizeof(bound);
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
            address.sin_port = bound.sin_port;
            _port = ntohs(bound.sin_port);
        }
        if (::listen(fd, listen_backlog) != 0) return std::string("listen: ") + std::strerror(errno);
    }
    return {};
}

listeners::~listeners() {
    for (const int fd : _fds) {
        if (fd >= 0) ::close(fd);
    }
}

// The multishot accept of one core's listening socket.
class server::acceptor final : public io::completion {
public:
    acceptor(server& owner, int listen_fd) : _owner(owner), _fd(listen_fd) {}

    void arm() {
        io_uring_sqe* entry = _owner._loop.sqe();
        io_uring_prep_multishot_accept(entry, _fd, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data(entry, static_cast<io::completion*>(this));
        _armed = true;
    }

    void stop() {
        _stopping = true;
        if (_armed) io::cancel(*this);
        else close_socket();
    }

    // Re-arm after a resource error (EMFILE...) on the next tick, not at once,
    // so an exhausted process does not spin.
    void retry_if_idle() {
        if (!_armed && !_stopping) arm();
    }

    void complete(std::int32_t result, std::uint32_t flags) override {
        if (result >= 0) _owner.on_accept(result);
        if ((flags & IORING_CQE_F_MORE) != 0) return;
        _armed = false;
        if (_stopping) {
            close_socket();
        } else if (result >= 0 || result == -ECONNABORTED || result == -EINTR) {
            arm();
        }  // else: retried from the tick
    }

private:
    void close_socket() {
        if (_fd >= 0) ::close(_fd);
        _fd = -1;
    }

    server& _owner;
    int _fd;
    bool _armed = false;
    bool _stopping = false;
};

server::server(io::loop& loop, int listen_fd, http::handler& handler, const server_options& options)
    : _loop(loop),
      _handler(handler),
      _options(options),
      _node_header(options.node_name.empty() ? std::string() : "X-Ringkv-Node: " + options.node_name + "\r\n"),
      _acceptor(new acceptor(*this, listen_fd)),
      _fresh(options.header_timeout_ms),
      _reading(options.header_timeout_ms),
      _idle(options.idle_timeout_ms),
      _sending(options.idle_timeout_ms),
      _lingering(limits::linger_ms),
      _injected(0) {}  // never expired by time (on_tick skips it), only cut by a forced stop

server::~server() { delete _acceptor; }

namespace {
io::task<> serve_connection(server& owner, int fd) {
    connection client(owner, fd);
    co_await client.serve();
}
}  // namespace

void server::start() {
    _acceptor->arm();
    _loop.on_tick([this] { on_tick(); });
    _loop.on_stop([this](bool forced) { on_stop(forced); });
}

void server::on_accept(int fd) {
    if (_open >= _options.connections_per_core || _loop.stopping()) {
        reject(fd);
        return;
    }
    ++_counters.accepted;
    const int on = 1;
    // Responses leave in one send each batch; Nagle would only delay them.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    io::spawn(serve_connection(*this, fd));
}

// Over the connection bound: a short 503 straight from the kernel's socket
// buffer (always room on a new socket), then close. No state is kept.
void server::reject(int fd) {
    ++_counters.rejected_over_limit;
    std::string out;
    http::response_writer writer(out, _loop.date_header(), _node_header);
    writer.begin(false, false, 1);
    http::write_error(writer, {503, http::error_code::too_many_requests,
                               _loop.stopping() ? "the server is shutting down"
                                                : "the server holds its maximum number of connections"});
    [[maybe_unused]] const ssize_t sent = ::send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(fd);
}

void server::on_tick() {
    const std::uint64_t now = _loop.real_now_ms();
    const auto time_out = [](deadline_hook& hook) { connection::of(hook).interrupt(true); };
    const auto send_time_out = [](deadline_hook& hook) { connection::of_send(hook).interrupt(true); };
    _fresh.expire(now, time_out);
    _reading.expire(now, time_out);
    _idle.expire(now, time_out);
    _sending.expire(now, send_time_out);
    _lingering.expire(now, time_out);
    _acceptor->retry_if_idle();
}

void server::on_stop(bool forced) {
    const auto interrupt = [](deadline_hook& hook) { connection::of(hook).interrupt(false); };
    const auto interrupt_send = [](deadline_hook& hook) { connection::of_send(hook).interrupt(false); };
    if (!forced) {
        _acceptor->stop();
        // Connections between requests go now; busy ones finish their request.
        _fresh.expire_all(interrupt);
        _idle.expire_all(interrupt);
        return;
    }
    _fresh.expire_all(interrupt);
    _reading.expire_all(interrupt);
    _idle.expire_all(interrupt);
    _sending.expire_all(interrupt_send);
    _lingering.expire_all(interrupt);
    _injected.expire_all(interrupt);
}

}  // namespace ringkv::net
