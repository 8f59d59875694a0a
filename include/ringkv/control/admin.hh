#pragma once
// The control plane's routes: /metrics (always open) and /_ringkv/... (the
// admin routes, guarded by --admin-token and removed by --no-admin). app/
// builds one table at start-up; every core's api service reads it, never
// writes it. The service routes a request here before the KV routes and
// makes every check (route, method, admin token, body size) before the
// handler runs, so a handler sees only requests it asked for.

#include <ringkv/io/task.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/net/http/response.hh>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::control {

// Runs on the core that received the request. May suspend (on_every_core,
// timers); writes exactly one response. The request and writer stay valid
// until it completes.
using admin_handler = std::function<io::task<>(net::http::request& request, net::http::response_writer& writer)>;

struct admin_options {
    std::string token;    // empty: the /_ringkv/ routes are open
    bool enabled = true;  // false (--no-admin): the /_ringkv/ routes answer 404
};

inline constexpr std::string_view admin_prefix = "/_ringkv/";

class admin_table {
public:
    explicit admin_table(admin_options options) : _options(std::move(options)) {}

    // path: the exact path ("/_ringkv/stats", "/metrics"). methods: those it
    // answers; HEAD is allowed wherever GET is (the body is dropped).
    // Start-up only.
    void add(std::string path, std::vector<net::http::method> methods, admin_handler handler);

    struct route {
        std::string path;
        std::vector<net::http::method> methods;
        admin_handler handler;
        std::string allow_header;  // "Allow: GET, HEAD, DELETE\r\n"

        bool allows(net::http::method m) const;
    };
    // The route of `path`, or nullptr. A /_ringkv/ path is found only when
    // the admin routes are enabled.
    const route* find(std::string_view path) const;
    // Whether `path` is the control plane's to answer (404 there, not the
    // KV API's 404): /_ringkv/... while enabled, or a registered open path.
    bool owns(std::string_view path) const;
    // Whether `authorization` (the raw header) carries the admin token, or
    // none is needed. Compared in constant time.
    bool admitted(const route& r, std::string_view authorization) const;

private:
    admin_options _options;
    std::vector<route> _routes;  // a handful: a linear search is cheapest
};

// Runs fn() on every core, this one first, one core after another, and
// resumes the caller when all have run it: an admin change is in force
// everywhere before it is answered. fn must not suspend; it runs on each
// core's own thread (touch only that core's data and what it captured).
io::task<> on_every_core(std::function<void()> fn);

}  // namespace ringkv::control
