#include <ringkv/control/admin.hh>

#include "names.hh"

#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>

#include <algorithm>

namespace ringkv::control {

using net::http::method;

namespace {

// The token of "Bearer <token>" (scheme case-insensitive, then spaces or
// tabs, as the KV API reads it), or empty.
std::string_view bearer(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer";
    if (authorization.size() <= scheme.size() + 1) return {};
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        const char c = authorization[i];
        if ((c >= 'A' && c <= 'Z' ? char(c + 32) : c) != scheme[i]) return {};
    }
    const char separator = authorization[scheme.size()];
    if (separator != ' ' && separator != '\t') return {};
    std::string_view token = authorization.substr(scheme.size() + 1);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    return token;
}

// Equal contents, in time that depends on the lengths only, so the admin
// token cannot be guessed a byte at a time from response times.
bool same_secret(std::string_view given, std::string_view expected) {
    unsigned char difference = given.size() == expected.size() ? 0 : 1;
    for (std::size_t i = 0; i < given.size(); ++i) {
        difference |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
    }
    return difference == 0;
}

}  // namespace

bool admin_table::route::allows(method m) const {
    const method asked = m == method::head ? method::get : m;
    return std::find(methods.begin(), methods.end(), asked) != methods.end();
}

void admin_table::add(std::string path, std::vector<method> methods, admin_handler handler) {
    std::string allow = "Allow: ";
    for (const method m : methods) {
        allow += method_name(m);
        if (m == method::get) allow += ", HEAD";
        allow += ", ";
    }
    allow.resize(allow.size() - 2);
    allow += "\r\n";
    _routes.push_back({std::move(path), std::move(methods), std::move(handler), std::move(allow)});
}

const admin_table::route* admin_table::find(std::string_view path) const {
    if (path.starts_with(admin_prefix) && !_options.enabled) return nullptr;
    for (const route& r : _routes) {
        if (r.path == path) return &r;
    }
    return nullptr;
}

bool admin_table::owns(std::string_view path) const {
    return (path.starts_with(admin_prefix) && _options.enabled) || find(path) != nullptr;
}

bool admin_table::admitted(const route& r, std::string_view authorization) const {
    if (!r.path.starts_with(admin_prefix) || _options.token.empty()) return true;
    return same_secret(bearer(authorization), _options.token);
}

io::task<> on_every_core(std::function<void()> fn) {
    const unsigned here = io::loop::current().core();
    const unsigned cores = io::loop::current().core_count();
    for (unsigned step = 0; step < cores; ++step) {
        co_await io::submit_to((here + step) % cores, [&fn] { fn(); });
    }
}

}  // namespace ringkv::control
