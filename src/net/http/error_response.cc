#include <ringkv/net/http/error_response.hh>

#include <string>

namespace ringkv::net::http {
namespace {

std::string_view title_of(error_code code) {
    switch (code) {
        case error_code::missing_parameter: return "Missing required parameter";
        case error_code::not_found: return "Resource not found";
        case error_code::invalid_id: return "Invalid ID";
        case error_code::unexpected: return "Unexpected error";
        case error_code::authentication_failed: return "Authentication failed";
        case error_code::too_many_requests: return "Too many requests";
        case error_code::duplicate: return "Duplicate resource";
        case error_code::unsupported_media_type: return "Unsupported media type";
        case error_code::bad_request: return "Bad request";
        case error_code::invalid_json: return "Invalid JSON";
    }
    return "Unexpected error";
}

}  // namespace

void write_error(response_writer& writer, const error& e, std::string_view extra_headers) {
    // One buffer per thread, reused for every error body: errors allocate
    // nothing once it has grown to the longest one.
    thread_local std::string body;
    body.clear();
    const std::string code = std::to_string(int(e.code));
    body.append(R"({"errors":[{"code":")").append(code).append(R"(","title":)");
    append_json_string(body, title_of(e.code));
    body.append(R"(,"detail":)");
    append_json_string(body, e.detail);
    if (e.source.what != error_source::kind::none) {
        body.append(e.source.what == error_source::kind::pointer ? R"(,"source":{"pointer":)"
                                                                  : R"(,"source":{"parameter":)");
        append_json_string(body, e.source.name);
        body.push_back('}');
    }
    body.append(R"(,"meta":{"url":"https://docs.telnyx.com/api/errors/)").append(code).append(R"("}}]})");
    writer.write(e.status, "application/json", body, extra_headers);
}

}  // namespace ringkv::net::http
