#pragma once
// The JSON error shape of API.md, with Telnyx's error codes:
// {"errors":[{"code":"10005","title":"Resource not found","detail":"...",
//   "source":{"pointer":"/id"},"meta":{"url":"https://docs.telnyx.com/api/errors/10005"}}]}

#include <ringkv/base/json_string.hh>
#include <ringkv/net/http/response.hh>

#include <string>
#include <string_view>

namespace ringkv::net::http {

enum class error_code {
    missing_parameter = 10004,
    not_found = 10005,
    invalid_id = 10006,
    unexpected = 10007,
    authentication_failed = 10009,
    too_many_requests = 10011,
    duplicate = 10012,
    unsupported_media_type = 10014,
    bad_request = 10015,
    invalid_json = 10023,
};

struct error_source {
    enum class kind { none, pointer, parameter };
    kind what = kind::none;
    std::string_view name;  // "/id" for a pointer, "ttl_secs" for a parameter

    static error_source pointer(std::string_view p) { return {kind::pointer, p}; }
    static error_source parameter(std::string_view p) { return {kind::parameter, p}; }
};

struct error {
    int status;
    error_code code;
    std::string_view detail;
    error_source source = {};
};

// Appends `text` as a JSON string (base/json_string.hh).
using base::append_json_string;

// Writes the whole response (status, JSON body). extra_headers as in write().
void write_error(response_writer& writer, const error& e, std::string_view extra_headers = {});

}  // namespace ringkv::net::http
