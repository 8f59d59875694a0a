#pragma once
// Starts the real ringkv binary on a free port and talks to it over raw
// sockets. The binary's path comes from RINGKV_BINARY (set by meson).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ringkv::testing {

struct process_result {
    int exit_status = -1;
    std::string out, err;
};

// Runs the binary with `args` to completion (for flag errors).
process_result run_to_exit(const std::vector<std::string>& args, int timeout_ms = 10'000);
// The same for another program (path from the environment variable named).
process_result run_program_to_exit(const char* path_variable, const std::vector<std::string>& args,
                                   int timeout_ms = 10'000);
// run_to_exit where the kernel refuses every thread the binary starts:
// the default stack of a new thread (RLIMIT_STACK, which glibc reads at
// start, inherited through exec) is set past the address space, so
// pthread_create fails with EAGAIN. This process's limit is put back.
process_result run_to_exit_refusing_threads(const std::vector<std::string>& args, int timeout_ms = 10'000);

// A directory made for one test under /tmp and removed with everything in
// it when the test ends (--data-dir tests).
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return _path; }
    // The names in it that begin with `prefix`, sorted.
    std::vector<std::string> files(const std::string& prefix) const;
    std::string read(const std::string& name) const;
    void write(const std::string& name, const std::string& bytes) const;

private:
    std::string _path;
};

class server_process {
public:
    explicit server_process(std::vector<std::string> args = {});
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    std::uint16_t port() const { return _port; }
    // The server's process id (for /proc/<pid>/status), -1 once stopped.
    pid_t pid() const { return _pid; }
    // Sends SIGTERM and waits; returns the exit status (or -1 on a signal or
    // a timeout, after which the process is killed).
    int stop(int timeout_ms = 10'000);

private:
    pid_t _pid = -1;
    std::uint16_t _port = 0;
};

struct response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class client {
public:
    explicit client(std::uint16_t port);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void send(const std::string& bytes);
    // Reads one response; nullopt if the connection closed (or timed out)
    // before a whole one arrived. head_only: a HEAD response has no body.
    std::optional<response> read_response(int timeout_ms = 5000, bool head_only = false);
    // True when the server closed the connection (EOF) within the timeout,
    // after any bytes still buffered.
    bool closed_by_server(int timeout_ms = 5000);
    // Raw bytes until `count` are buffered or the timeout.
    std::string read_raw(std::size_t count, int timeout_ms = 5000);
    int fd() const { return _fd; }

private:
    bool fill(int timeout_ms);  // reads more into _buffer; false on EOF/timeout
    int _fd = -1;
    std::string _buffer;
    bool _eof = false;
};

// One request on a fresh connection.
std::optional<response> exchange(std::uint16_t port, const std::string& request);

// The Authorization header line for `token`; none for an empty token.
std::string bearer(const std::string& token);
// The organization the tests act as unless they say otherwise.
inline const std::string org_one_auth = "Authorization: Bearer org-one\r\n";

// A request's bytes: `headers` are whole lines ("Name: value\r\n"); a body,
// when given, comes with its Content-Length.
std::string request(const std::string& method, const std::string& path, const std::string& headers = org_one_auth,
                    const std::optional<std::string>& body = std::nullopt);
// One request on a fresh connection, answered within 10 s; no answer fails
// the test and returns an empty response (status 0).
response call(std::uint16_t port, const std::string& method, const std::string& path,
              const std::string& headers = org_one_auth, const std::optional<std::string>& body = std::nullopt);
// Creates a namespace called `name` and returns its id ("" and a failed
// test if it is not 201).
std::string create_namespace(std::uint16_t port, const std::string& name, const std::string& headers = org_one_auth);
std::string key_path(const std::string& namespace_id, const std::string& key);

// How many times `what` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& what);
// The sum over the cores of a per-core family's series in a /metrics text
// (`name{core="..."`, then, when given, lines holding `more_labels` only).
double sum_over_cores(const std::string& metrics, const std::string& name, const std::string& more_labels = "");
// promtool's verdict on a /metrics text: "" when it passes, else what it
// said. scripts/install-deps installs promtool (Debian package prometheus);
// without it the check fails rather than passing unchecked.
std::string promtool_complaints(const std::string& metrics);

std::string get(const std::string& path, const std::string& extra_headers = "");

// The value of "name":"..." (first occurrence) in a JSON text; empty if absent.
std::string json_string(const std::string& json, const std::string& name);

}  // namespace ringkv::testing
