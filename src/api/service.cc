#include <ringkv/api/service.hh>

#include <ringkv/base/limits.hh>
#include <ringkv/net/http/error_response.hh>

namespace ringkv::api {

using net::http::error_code;
using net::http::head_verdict;
using net::http::method;

namespace {

constexpr std::string_view healthz_path = "/healthz";
// 28 bytes: bench/http_core.sh has nginx answer the very same body.
constexpr std::string_view healthz_body = R"({"data":{"status":"online"}})";

}  // namespace

head_verdict service::on_head(const net::http::request_head& head, net::http::response_writer& writer) {
    if (head.path != healthz_path) {
        net::http::write_error(writer, {404, error_code::not_found, "no route matches this path"});
        return head_verdict::answered();
    }
    if (head.method != method::get && head.method != method::head) {
        net::http::write_error(writer, {405, error_code::bad_request, "this path allows GET and HEAD"},
                               "Allow: GET, HEAD\r\n");
        return head_verdict::answered();
    }
    // A body on a health check is read and ignored, within the usual bound.
    if (head.content_length.value_or(0) > limits::body_bytes_max) return head_verdict::too_large();
    return head_verdict::read_body(limits::body_bytes_max);
}

io::task<> service::on_request(net::http::request&, net::http::response_writer& writer) {
    writer.write(200, "application/json", healthz_body);
    co_return;
}

}  // namespace ringkv::api
