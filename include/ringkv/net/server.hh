#pragma once
// The HTTP server of one core: its own SO_REUSEPORT listening socket with a
// multishot accept, its connections (one coroutine each), their deadlines,
// and the bound on how many it holds.
//
// Why SO_REUSEPORT per core rather than one socket shared by all rings: the
// kernel spreads new connections across the cores' sockets by flow hash, so
// no two rings contend for one accept queue and a connection is served start
// to end by the core that accepted it.

#include <ringkv/io/completion.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/deadline_list.hh>
#include <ringkv/net/http/handler.hh>

#include <cstdint>
#include <string>
#include <vector>

namespace ringkv::net {

struct server_options {
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 8080;
    unsigned connections_per_core = 4096;
    std::uint32_t header_timeout_ms = 10'000;
    std::uint32_t idle_timeout_ms = 60'000;
    // --node-name: every response says "X-Ringkv-Node: <name>", so behind a
    // proxy a client (and bench/scale-out.sh) sees which node answered.
    // Empty: no such header. Checked by config/ (a header-safe token).
    std::string node_name;
    // Time each request (two clock reads) and report it to the handler's
    // on_answered/on_complete; off: neither is called.
    bool observe = true;
    // A Server-Timing header on every response (response.hh).
    bool server_timing = false;
};

// Binds one listening socket per core to the same address. Fails with a
// one-line message (port in use, bad address) instead of sharing the port
// with another process. Port 0 picks a free port; port() tells which.
class listeners {
public:
    // Returns an error message, or empty on success.
    std::string open(const server_options& options, unsigned count);
    ~listeners();
    int fd(unsigned core) const { return _fds[core]; }
    // The servers own the sockets now; the destructor leaves them open.
    void release() { _fds.clear(); }
    std::uint16_t port() const { return _port; }

private:
    std::vector<int> _fds;
    std::uint16_t _port = 0;
};

class connection;

class server {
public:
    // listen_fd is owned by the server from now on.
    server(io::loop& loop, int listen_fd, http::handler& handler, const server_options& options);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();

    // What happened at this core's bounds, reported at shutdown and read
    // by this core's metrics collector.
    struct counters {
        std::uint64_t accepted = 0;
        std::uint64_t rejected_over_limit = 0;
        std::uint64_t timed_out = 0;
        std::uint64_t bytes_received = 0;
        std::uint64_t bytes_sent = 0;
    };
    const counters& stats() const { return _counters; }
    unsigned open_connections() const { return _open; }

private:
    friend class connection;
    class acceptor;

    void on_accept(int fd);
    void reject(int fd);
    void on_tick();
    void on_stop(bool forced);

    io::loop& _loop;
    http::handler& _handler;
    const server_options _options;
    const std::string _node_header;  // "X-Ringkv-Node: <name>\r\n", or empty
    acceptor* _acceptor;
    unsigned _open = 0;
    counters _counters;

    // Deadlines, by kind; each list holds hooks of connections waiting on it.
    // Each runs from the start of its period; reads do not restart it.
    deadline_list _fresh;     // accepted, no byte yet: header timeout
    deadline_list _reading;   // a message begun (a blank line counts): header
                              // timeout, from its first byte (again for its body)
    deadline_list _idle;      // between requests: idle timeout
    deadline_list _sending;   // a send not progressing: idle timeout (own hook)
    deadline_list _lingering; // closing: drain unread input before close
    deadline_list _injected;  // a delay or dribble injected by a rule: no
                              // timeout of its own (it ends by itself, within
                              // control's bounds), listed so shutdown can cut it
};

}  // namespace ringkv::net
