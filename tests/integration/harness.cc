#include "harness.hh"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace ringkv::testing {
namespace {

using clock = std::chrono::steady_clock;

std::string binary(const char* variable = "RINGKV_BINARY") {
    const char* path = std::getenv(variable);
    if (path == nullptr) throw std::runtime_error(std::string(variable) + " is not set");
    return path;
}

// Everything the child needs is built before fork: a throw (RINGKV_BINARY
// unset) stays in the test, and the child only execs or exits.
pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd, const char* variable = "RINGKV_BINARY") {
    std::string path = binary(variable);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    argv.push_back(path.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    return pid;
}

// Waits for the child; -2 on timeout.
int wait_exit(pid_t pid, int timeout_ms) {
    const auto until = clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        int status = 0;
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (clock::now() > until) return -2;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string drain(int fd) {
    std::string text;
    char chunk[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, chunk, sizeof(chunk))) > 0) text.append(chunk, std::size_t(n));
    return text;
}

}  // namespace

process_result run_to_exit(const std::vector<std::string>& args, int timeout_ms) {
    return run_program_to_exit("RINGKV_BINARY", args, timeout_ms);
}

process_result run_program_to_exit(const char* path_variable, const std::vector<std::string>& args, int timeout_ms) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe");
    const pid_t pid = spawn(args, out[1], err[1], path_variable);
    close(out[1]);
    close(err[1]);
    process_result result;
    result.exit_status = wait_exit(pid, timeout_ms);
    if (result.exit_status == -2) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
    result.out = drain(out[0]);
    result.err = drain(err[0]);
    close(out[0]);
    close(err[0]);
    return result;
}

process_result run_to_exit_refusing_threads(const std::vector<std::string>& args, int timeout_ms) {
    rlimit saved{};
    if (getrlimit(RLIMIT_STACK, &saved) != 0) throw std::runtime_error("getrlimit");
    rlimit past_the_address_space = saved;
    past_the_address_space.rlim_cur = rlim_t(1) << 48;  // 256 TiB
    if (setrlimit(RLIMIT_STACK, &past_the_address_space) != 0) {
        throw std::runtime_error("setrlimit(RLIMIT_STACK): the hard limit is below 256 TiB");
    }
    process_result result;
    try {
        result = run_to_exit(args, timeout_ms);
    } catch (...) {
        setrlimit(RLIMIT_STACK, &saved);
        throw;
    }
    setrlimit(RLIMIT_STACK, &saved);
    return result;
}

server_process::server_process(std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", "0"});
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    _pid = spawn(args, out[1], 2);
    close(out[1]);
    // The first line says where it listens: "ringkv listening on http://ADDR:PORT (...)".
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&p, 1, 10'000) > 0) {
        char c[256];
        const ssize_t n = ::read(out[0], c, sizeof(c));
        if (n <= 0) break;
        line.append(c, std::size_t(n));
    }
    close(out[0]);
    const auto colon = line.rfind(':', line.find(" ("));
    if (line.find("listening on") == std::string::npos || colon == std::string::npos) {
        kill(_pid, SIGKILL);
        waitpid(_pid, nullptr, 0);
        throw std::runtime_error("ringkv did not start: '" + line + "'");
    }
    _port = std::uint16_t(std::stoi(line.substr(colon + 1)));
}

server_process::~server_process() {
    if (_pid > 0) stop();
}

int server_process::stop(int timeout_ms) {
    if (_pid <= 0) return -1;
    kill(_pid, SIGTERM);
    int status = wait_exit(_pid, timeout_ms);
    if (status == -2) {
        kill(_pid, SIGKILL);
        waitpid(_pid, nullptr, 0);
        status = -1;
    }
    _pid = -1;
    return status;
}

client::client(std::uint16_t port) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
}

client::~client() { ::close(_fd); }

void client::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t n = ::send(_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;  // the server may have closed; reads will tell
        sent += std::size_t(n);
    }
}

bool client::fill(int timeout_ms) {
    if (_eof) return false;
    pollfd p{_fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(_fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
        _eof = true;
        return false;
    }
    _buffer.append(chunk, std::size_t(n));
    return true;
}

std::optional<response> client::read_response(int timeout_ms, bool head_only) {
    const auto until = clock::now() + std::chrono::milliseconds(timeout_ms);
    const auto left = [&] {
        return int(std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count()));
    };
    std::size_t end = 0;
    while ((end = _buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(left())) return std::nullopt;
    }
    response r;
    const std::string head = _buffer.substr(0, end + 2);
    r.status = std::stoi(head.substr(9, 3));
    std::size_t line = head.find("\r\n") + 2;
    while (line < head.size()) {
        const std::size_t eol = head.find("\r\n", line);
        const std::string text = head.substr(line, eol - line);
        const std::size_t colon = text.find(':');
        std::string name = text.substr(0, colon);
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        std::size_t v = colon + 1;
        while (v < text.size() && text[v] == ' ') ++v;
        r.headers[name] = text.substr(v);
        line = eol + 2;
    }
    std::size_t length = 0;
    if (!head_only && r.status != 204 && r.status != 100 && r.headers.count("content-length")) {
        length = std::stoul(r.headers["content-length"]);
    }
    while (_buffer.size() < end + 4 + length) {
        if (!fill(left())) return std::nullopt;
    }
    r.body = _buffer.substr(end + 4, length);
    _buffer.erase(0, end + 4 + length);
    return r;
}

bool client::closed_by_server(int timeout_ms) {
    const auto until = clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!_eof) {
        const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count());
        if (left <= 0) return false;
        fill(left);
    }
    return true;
}

std::string client::read_raw(std::size_t count, int timeout_ms) {
    while (_buffer.size() < count && fill(timeout_ms)) {
    }
    std::string out = _buffer.substr(0, count);
    _buffer.erase(0, out.size());
    return out;
}

std::optional<response> exchange(std::uint16_t port, const std::string& request) {
    client c(port);
    c.send(request);
    return c.read_response();
}

std::string get(const std::string& path, const std::string& extra_headers) {
    return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

std::string bearer(const std::string& token) { return token.empty() ? "" : "Authorization: Bearer " + token + "\r\n"; }

std::string request(const std::string& method, const std::string& path, const std::string& headers,
                    const std::optional<std::string>& body) {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: t\r\n" + headers;
    if (body) r += "Content-Length: " + std::to_string(body->size()) + "\r\n";
    return r + "\r\n" + body.value_or("");
}

response call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& headers,
              const std::optional<std::string>& body) {
    client c(port);
    c.send(request(method, path, headers, body));
    std::optional<response> r = c.read_response(10'000, method == "HEAD");
    if (!r) ADD_FAILURE() << "no answer to " << method << " " << path.substr(0, 200);
    return r.value_or(response{});
}

std::string create_namespace(std::uint16_t port, const std::string& name, const std::string& headers) {
    const response r = call(port, "POST", "/v2/storage/kvs", headers, R"({"name":")" + name + "\"}");
    EXPECT_EQ(r.status, 201) << r.body;
    return json_string(r.body, "id");
}

std::string key_path(const std::string& namespace_id, const std::string& key) {
    return "/v2/storage/kvs/" + namespace_id + "/keys/" + key;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

double sum_over_cores(const std::string& metrics, const std::string& name, const std::string& more_labels) {
    std::istringstream in(metrics);
    double total = 0;
    const std::string prefix = name + "{core=\"";
    for (std::string line; std::getline(in, line);) {
        if (line.compare(0, prefix.size(), prefix) != 0) continue;
        if (!more_labels.empty() && line.find(more_labels) == std::string::npos) continue;
        total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return total;
}

std::string promtool_complaints(const std::string& metrics) {
    char pattern[] = "/tmp/ringkv-metrics-XXXXXX";
    const int fd = mkstemp(pattern);
    if (fd < 0) return std::string("mkstemp: ") + std::strerror(errno);
    ::close(fd);
    const std::string path = pattern;
    std::ofstream(path) << metrics;
    const int status = std::system(("promtool check metrics < " + path + " > " + path + ".out 2>&1").c_str());
    std::ifstream out(path + ".out");
    std::stringstream verdict;
    verdict << out.rdbuf();
    std::remove(path.c_str());
    std::remove((path + ".out").c_str());
    if (status == 0) return "";
    return "promtool check metrics (exit status " + std::to_string(status) + "): " + verdict.str();
}

std::string json_string(const std::string& json, const std::string& name) {
    const std::string marker = "\"" + name + "\":\"";
    const std::size_t at = json.find(marker);
    if (at == std::string::npos) return "";
    const std::size_t start = at + marker.size();
    return json.substr(start, json.find('"', start) - start);
}

temp_dir::temp_dir() {
    char pattern[] = "/tmp/ringkv-data-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    _path = made;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(_path, ignored);
}

std::vector<std::string> temp_dir::files(const std::string& prefix) const {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(_path)) {
        std::string name = entry.path().filename().string();
        if (name.starts_with(prefix)) found.push_back(std::move(name));
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::string temp_dir::read(const std::string& name) const {
    std::ifstream in(_path + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void temp_dir::write(const std::string& name, const std::string& bytes) const {
    std::ofstream(_path + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace ringkv::testing
