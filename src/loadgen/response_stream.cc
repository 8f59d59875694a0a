#include "response_stream.hh"

namespace ringkv::loadgen {

const llhttp_settings_t response_stream::settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_body = &response_stream::on_body;
    s.on_message_complete = &response_stream::on_message_complete;
    return s;
}();

response_stream::response_stream(bool keep_bodies) : _keep_bodies(keep_bodies) {
    llhttp_init(&_parser, HTTP_RESPONSE, &settings);
    _parser.data = this;
}

int response_stream::on_body(llhttp_t* p, const char* at, std::size_t bytes) {
    auto& self = *static_cast<response_stream*>(p->data);
    if (self._keep_bodies) self._body.append(at, bytes);
    return 0;
}

int response_stream::on_message_complete(llhttp_t* p) {
    auto& self = *static_cast<response_stream*>(p->data);
    self._done.push_back({llhttp_get_status_code(p), std::move(self._body)});
    self._body.clear();
    return 0;
}

bool response_stream::feed(std::string_view bytes) {
    return llhttp_execute(&_parser, bytes.data(), bytes.size()) == HPE_OK;
}

}  // namespace ringkv::loadgen
