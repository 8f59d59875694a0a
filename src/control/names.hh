#pragma once
// How the control plane spells methods: as the metrics do
// (metrics::name_of), so /metrics, /_ringkv/stats, the request journal, the
// rules (read and written) and the admin routes' Allow header can never
// disagree. Routes are spelled the same way (control/rules.hh: route_kind is
// metrics::route).

#include <ringkv/metrics/requests.hh>
#include <ringkv/net/http/request.hh>

#include <cstdint>
#include <string_view>

namespace ringkv::control {

// The parser's methods are the metrics' seven, in the same order, so one is
// the other by value.
static_assert(metrics::method_count == 7 && std::uint8_t(net::http::method::other) == 6);
static_assert(std::uint8_t(net::http::method::get) == std::uint8_t(metrics::method::get) &&
              std::uint8_t(net::http::method::head) == std::uint8_t(metrics::method::head) &&
              std::uint8_t(net::http::method::post) == std::uint8_t(metrics::method::post) &&
              std::uint8_t(net::http::method::put) == std::uint8_t(metrics::method::put) &&
              std::uint8_t(net::http::method::delete_) == std::uint8_t(metrics::method::delete_) &&
              std::uint8_t(net::http::method::connect) == std::uint8_t(metrics::method::connect) &&
              std::uint8_t(net::http::method::other) == std::uint8_t(metrics::method::other));

inline metrics::method metrics_method(net::http::method m) { return metrics::method(std::uint8_t(m)); }

// "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OTHER".
inline std::string_view method_name(net::http::method m) { return metrics::name_of(metrics_method(m)); }

}  // namespace ringkv::control
