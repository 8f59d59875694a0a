#pragma once
// Responses read off one connection, with llhttp: feed it bytes as they
// come, collect each completed response's status (and body, if asked).
// Any server's framing works: Content-Length, chunked, or none.

#include <llhttp.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::loadgen {

class response_stream {
public:
    explicit response_stream(bool keep_bodies);
    response_stream(const response_stream&) = delete;
    response_stream& operator=(const response_stream&) = delete;

    struct response {
        int status;
        std::string body;  // only with keep_bodies
    };
    // Parses `bytes`; completed responses are appended to done(). Returns
    // false on a protocol error (the connection is unusable).
    bool feed(std::string_view bytes);
    std::vector<response>& done() { return _done; }
    const char* error() const { return llhttp_errno_name(llhttp_get_errno(&_parser)); }

private:
    static int on_body(llhttp_t*, const char*, std::size_t);
    static int on_message_complete(llhttp_t*);
    static const llhttp_settings_t settings;

    llhttp_t _parser{};
    bool _keep_bodies;
    std::string _body;
    std::vector<response> _done;
};

}  // namespace ringkv::loadgen
