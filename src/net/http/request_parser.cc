#include <ringkv/net/http/request_parser.hh>

#include <ringkv/base/assert.hh>
#include <ringkv/base/limits.hh>

#include <cstring>
#include <strings.h>

namespace ringkv::net::http {
namespace {

request_parser& owner(llhttp_t* p) { return *static_cast<request_parser*>(p->data); }

bool name_is(std::string_view name, std::string_view expected) {
    return name.size() == expected.size() && strncasecmp(name.data(), expected.data(), name.size()) == 0;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

method method_of(std::uint8_t m) {
    switch (m) {
        case HTTP_GET: return method::get;
        case HTTP_HEAD: return method::head;
        case HTTP_POST: return method::post;
        case HTTP_PUT: return method::put;
        case HTTP_DELETE: return method::delete_;
        default: return method::other;
    }
}

// Bytes a header line adds beyond its name and value: ": " and CRLF.
constexpr std::size_t header_line_overhead_bytes = 4;

}  // namespace

const llhttp_settings_t request_parser::settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &request_parser::on_message_begin;
    s.on_url = &request_parser::on_url;
    s.on_header_field = &request_parser::on_header_field;
    s.on_header_value = &request_parser::on_header_value;
    s.on_header_value_complete = &request_parser::on_header_value_complete;
    s.on_headers_complete = &request_parser::on_headers_complete;
    s.on_body = &request_parser::on_body;
    s.on_message_complete = &request_parser::on_message_complete;
    return s;
}();

request_parser::request_parser() : _buffer(std::make_unique<char[]>(limits::read_buffer_bytes)) {
    llhttp_init(&_parser, HTTP_REQUEST, &settings);
    _parser.data = this;
}

request_parser::~request_parser() = default;

std::span<char> request_parser::free_space() {
    if (limits::read_buffer_bytes - _end < limits::recv_bytes_min) {
        // Keep the head in progress and the unparsed bytes; drop everything
        // else (finished requests, body bytes already copied out). Spans are
        // relative to the head start, so they survive the move.
        const std::size_t head_end = _phase == phase::body ? _head_start + _head_bytes : _parsed;
        const std::size_t head_bytes = head_end - _head_start;
        std::memmove(_buffer.get(), _buffer.get() + _head_start, head_bytes);
        const std::size_t unparsed = _end - _parsed;
        std::memmove(_buffer.get() + head_bytes, _buffer.get() + _parsed, unparsed);
        _head_start = 0;
        _parsed = head_bytes;
        _end = head_bytes + unparsed;
    }
    // The head is bounded by head_bytes_max < read_buffer_bytes and next()
    // consumed everything else, so room remains.
    RINGKV_ASSERT(_end < limits::read_buffer_bytes);
    return {_buffer.get() + _end, limits::read_buffer_bytes - _end};
}

void request_parser::received(std::size_t bytes) {
    RINGKV_ASSERT(_end + bytes <= limits::read_buffer_bytes);
    _end += bytes;
}

request_parser::event request_parser::next() {
    if (_failure != failure::none) return event::failed;
    if (_paused) {
        _paused = false;
        llhttp_resume(&_parser);
    }
    if (!_in_message) {
        if (_parsed == _end) return event::need_more;
        _head_start = _parsed;
    }
    return execute();
}

request_parser::event request_parser::execute() {
    const char* data = _buffer.get() + _parsed;
    const llhttp_errno_t status = llhttp_execute(&_parser, data, _end - _parsed);
    if (status == HPE_OK) {
        _parsed = _end;
        if (_phase == phase::head && _parsed - _head_start > limits::head_bytes_max) {
            fail(_url.bytes > limits::target_bytes_max ? failure::target_too_long : failure::header_too_large);
            return event::failed;
        }
        return event::need_more;
    }
    if (status == HPE_PAUSED) {
        _parsed = std::size_t(llhttp_get_error_pos(&_parser) - _buffer.get());
        _paused = true;
        if (_phase == phase::body && _head_bytes == 0) {
            _head_bytes = _parsed - _head_start;
            return event::head_ready;
        }
        RINGKV_DEBUG_ASSERT(_phase == phase::complete);
        _in_message = false;
        _phase = phase::idle;
        return event::message_ready;
    }
    if (_failure == failure::none) _failure = failure::malformed;
    return event::failed;
}

int request_parser::fail(failure f) {
    _failure = f;
    return -1;  // llhttp stops with a callback error
}

void request_parser::accept_body(std::size_t body_bytes_max) {
    _keep_body = true;
    _body_bytes_max = body_bytes_max;
    if (_head.content_length && *_head.content_length <= body_bytes_max) _body.reserve(*_head.content_length);
}

void request_parser::discard_body(std::size_t body_bytes_max) {
    _keep_body = false;
    _body_bytes_max = body_bytes_max;
}

void request_parser::extend(span& s, const char* at, std::size_t bytes) {
    const std::size_t offset = std::size_t(at - (_buffer.get() + _head_start));
    if (s.bytes == 0) s.offset = std::uint32_t(offset);
    RINGKV_DEBUG_ASSERT(s.offset + s.bytes == offset);
    s.bytes += std::uint32_t(bytes);
}

std::string_view request_parser::view(span s) const {
    return {_buffer.get() + _head_start + s.offset, s.bytes};
}

int request_parser::on_message_begin(llhttp_t* p) {
    request_parser& self = owner(p);
    self._in_message = true;
    self._phase = phase::head;
    self._url = self._field = self._value = {};
    self._content_type = self._authorization = self._expect = {};
    self._header_block_bytes = 0;
    self._head_bytes = 0;  // set when llhttp pauses after the head
    if (self._body.capacity() > limits::retained_body_bytes_max) {
        std::string().swap(self._body);
    } else {
        self._body.clear();
    }
    self._body_bytes = 0;
    self._keep_body = false;
    self._body_bytes_max = 0;
    return 0;
}

int request_parser::on_url(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    self.extend(self._url, at, bytes);
    if (self._url.bytes > limits::target_bytes_max) return self.fail(failure::target_too_long);
    return 0;
}

int request_parser::on_header_field(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    if (self._value.bytes > 0) self._field = self._value = {};  // a new header line begins
    self.extend(self._field, at, bytes);
    self._header_block_bytes += bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    return 0;
}

int request_parser::on_header_value(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    self.extend(self._value, at, bytes);
    self._header_block_bytes += bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    return 0;
}

int request_parser::on_header_value_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    self._header_block_bytes += header_line_overhead_bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    const std::string_view name = self.view(self._field);
    // The first of a repeated header wins.
    if (name_is(name, "content-type")) {
        if (self._content_type.bytes == 0) self._content_type = self._value;
    } else if (name_is(name, "authorization")) {
        if (self._authorization.bytes == 0) self._authorization = self._value;
    } else if (name_is(name, "expect")) {
        self._expect = self._value;
    }
    self._field = self._value = {};
    return 0;
}

void request_parser::build_head() {
    request_head& h = _head;
    h = request_head{};
    h.method = method_of(llhttp_get_method(&_parser));
    h.target = view(_url);
    const std::size_t question = h.target.find('?');
    h.path = h.target.substr(0, question);
    h.query = question == std::string_view::npos ? std::string_view{} : h.target.substr(question + 1);
    h.content_type = trim(view(_content_type));
    h.authorization = trim(view(_authorization));
    h.chunked = (_parser.flags & F_CHUNKED) != 0;
    if (!h.chunked && (_parser.flags & F_CONTENT_LENGTH) != 0) h.content_length = _parser.content_length;
    h.expect_continue = name_is(trim(view(_expect)), "100-continue");
    h.keep_alive = llhttp_should_keep_alive(&_parser) != 0;
    h.version_minor = llhttp_get_http_minor(&_parser);
}

int request_parser::on_headers_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    self.build_head();
    self._phase = phase::body;
    return HPE_PAUSED;
}

int request_parser::on_body(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    self._body_bytes += bytes;
    if (self._body_bytes > self._body_bytes_max) return self.fail(failure::body_too_large);
    if (self._keep_body) self._body.append(at, bytes);
    return 0;
}

int request_parser::on_message_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    self._phase = phase::complete;
    return HPE_PAUSED;
}

}  // namespace ringkv::net::http
