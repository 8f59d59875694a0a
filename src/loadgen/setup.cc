#include "setup.hh"

#include "response_stream.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace ringkv::loadgen {
namespace {

constexpr int connect_timeout_ms = 3000;
constexpr int response_timeout_ms = 30000;
constexpr std::uint64_t fill_batch = 1000;

std::string where(const options& o) { return o.host + ":" + std::to_string(o.port); }

// Sends `requests` (count of them) and reads as many responses; each must be 2xx.
std::string exchange(const options& o, const std::string& requests, std::size_t count,
                     std::vector<response_stream::response>& out) {
    std::string error;
    const int fd = connect_to(o, error);
    if (fd < 0) return error;
    std::size_t sent = 0;
    while (sent < requests.size()) {
        const ssize_t n = ::send(fd, requests.data() + sent, requests.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            ::close(fd);
            return "the server at " + where(o) + " closed the connection";
        }
        sent += std::size_t(n);
    }
    response_stream stream(true);
    char buffer[65536];
    while (stream.done().size() < count) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, response_timeout_ms) <= 0) {
            ::close(fd);
            return "the server at " + where(o) + " did not answer within 30 s";
        }
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0 || !stream.feed({buffer, std::size_t(n)})) {
            ::close(fd);
            return "the server at " + where(o) + " closed the connection or sent bad HTTP";
        }
    }
    ::close(fd);
    out = std::move(stream.done());
    for (const auto& r : out) {
        if (r.status < 200 || r.status > 299) {
            return "the server answered " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
        }
    }
    return {};
}

std::string request(const options& o, const std::string& token, const char* method, const std::string& path,
                    std::string_view body, bool with_length = true) {
    std::string r = std::string(method) + " " + o.base_path + path + " HTTP/1.1\r\nHost: " + o.host +
                    "\r\nAuthorization: Bearer " + token + "\r\n";
    if (with_length) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    r += "\r\n";
    r.append(body);
    return r;
}

// A control-plane request: its path is the server's own, not under the base path.
std::string control_request(const options& o, const char* method, const std::string& path) {
    std::string r = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + o.host + "\r\n";
    if (!o.admin_token.empty()) r += "Authorization: Bearer " + o.admin_token + "\r\n";
    return r + "\r\n";
}

// What a refused stats request most likely means.
std::string stats_error(const std::string& error) {
    if (error.find("answered 404") != std::string::npos) {
        return "--server-stats: the server has no /_ringkv/stats (not ringkv, or started with --no-admin or "
               "--no-metrics): " + error;
    }
    if (error.find("answered 401") != std::string::npos) {
        return "--server-stats: the server wants its admin token (--admin-token): " + error;
    }
    return "--server-stats: " + error;
}

}  // namespace

std::string reset_server_stats(const options& o) {
    std::vector<response_stream::response> out;
    const std::string error = exchange(o, control_request(o, "DELETE", "/_ringkv/stats"), 1, out);
    return error.empty() ? error : stats_error(error);
}

std::string read_server_stats(const options& o, std::string& json) {
    std::vector<response_stream::response> out;
    const std::string error = exchange(o, control_request(o, "GET", "/_ringkv/stats"), 1, out);
    if (!error.empty()) return stats_error(error);
    json = out[0].body;
    return {};
}

int connect_to(const options& o, std::string& error) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(o.port);
    if (inet_pton(AF_INET, o.host.c_str(), &address.sin_addr) != 1) {
        error = "bad host '" + o.host + "' (an IPv4 address or localhost)";
        return -1;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int result = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    if (result != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, connect_timeout_ms) <= 0) {
            ::close(fd);
            error = "cannot connect to " + where(o) + ": no answer within 3 s";
            return -1;
        }
        socklen_t length = sizeof(result);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &length);
        errno = result;
    }
    if (result != 0) {
        error = "cannot connect to " + where(o) + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return fd;
}

std::string create_namespace(const options& o, const std::string& token, std::string& id) {
    const std::string name = "ringkv-bench-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr));
    std::vector<response_stream::response> out;
    const std::string error = exchange(o, request(o, token, "POST", "/storage/kvs", R"({"name":")" + name + "\"}"), 1, out);
    if (!error.empty()) return "creating the namespace of " + token + ": " + error;
    const std::string marker = "\"id\":\"";
    const std::size_t at = out[0].body.find(marker);
    if (at == std::string::npos) return "creating the namespace: no id in " + out[0].body.substr(0, 300);
    id = out[0].body.substr(at + marker.size(), 36);
    return {};
}

std::string check_namespace(const options& o, const std::string& token, const std::string& id) {
    std::vector<response_stream::response> out;
    const std::string error = exchange(o, request(o, token, "GET", "/storage/kvs/" + id, {}, false), 1, out);
    return error.empty() ? std::string() : "namespace " + id + ": " + error;
}

std::string fill_keys(const options& o, const std::string& token, const std::string& id) {
    const std::string value(o.value_bytes.low, 'v');
    for (std::uint64_t start = 0; start < o.keys; start += fill_batch) {
        const std::uint64_t end = std::min(o.keys, start + fill_batch);
        std::string requests;
        for (std::uint64_t k = start; k < end; ++k) {
            requests += request(o, token, "PUT", "/storage/kvs/" + id + "/keys/" + o.key_prefix + std::to_string(k), value);
        }
        std::vector<response_stream::response> out;
        const std::string error = exchange(o, requests, end - start, out);
        if (!error.empty()) return "filling the keys: " + error;
    }
    return {};
}

std::string delete_namespace(const options& o, const std::string& token, const std::string& id) {
    std::vector<response_stream::response> out;
    const std::string error = exchange(o, request(o, token, "DELETE", "/storage/kvs/" + id, {}, false), 1, out);
    return error.empty() ? std::string() : "deleting the namespace of " + token + ": " + error;
}

}  // namespace ringkv::loadgen
