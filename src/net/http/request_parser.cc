#include <ringkv/net/http/request_parser.hh>

#include <ringkv/base/assert.hh>
#include <ringkv/base/limits.hh>

#include <algorithm>
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

// A control character other than HTAB: never allowed in a view handed out
// (Content-Type is stored and echoed in response heads).
bool is_control(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

bool holds_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), is_control);
}

// RFC 9110 tchar: the characters of a field name.
bool is_token(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

method method_of(std::uint8_t m) {
    switch (m) {
        case HTTP_GET: return method::get;
        case HTTP_HEAD: return method::head;
        case HTTP_POST: return method::post;
        case HTTP_PUT: return method::put;
        case HTTP_DELETE: return method::delete_;
        case HTTP_CONNECT: return method::connect;
        default: return method::other;
    }
}

// Bytes a header line adds beyond its name and value: ": " and CRLF.
constexpr std::size_t header_line_overhead_bytes = 4;
// " HTTP/" between the target and the version digits.
constexpr std::size_t version_prefix_bytes = 6;
// A chunk size past this cannot be a body anyone accepts; stopping here
// keeps the hex accumulator from overflowing.
constexpr std::uint64_t chunk_size_max = std::uint64_t(1) << 56;

}  // namespace

const llhttp_settings_t request_parser::settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &request_parser::on_message_begin;
    s.on_method = &request_parser::on_method;
    s.on_url = &request_parser::on_url;
    s.on_url_complete = &request_parser::on_url_complete;
    s.on_version = &request_parser::on_version;
    s.on_version_complete = &request_parser::on_version_complete;
    s.on_header_field = &request_parser::on_header_field;
    s.on_header_value = &request_parser::on_header_value;
    s.on_header_value_complete = &request_parser::on_header_value_complete;
    s.on_headers_complete = &request_parser::on_headers_complete;
    s.on_message_complete = &request_parser::on_message_complete;
    return s;
}();

request_parser::request_parser() {
    llhttp_init(&_parser, HTTP_REQUEST, &settings);
    _parser.data = this;
}

request_parser::~request_parser() = default;

// --- The read buffer ---------------------------------------------------------

std::span<char> request_parser::free_space() {
    // Not zero-filled: only bytes received are ever read.
    if (!_buffer) _buffer.reset(new char[limits::read_buffer_bytes]);
    if (limits::read_buffer_bytes - _end < limits::recv_bytes_min) {
        if (_phase == phase::body) {
            // The head stays put (its views are out); body bytes were copied
            // out as they came, so only unparsed bytes follow it.
            const std::size_t head_end = _start + _head_bytes;
            std::memmove(_buffer.get() + head_end, _buffer.get() + _parsed, _end - _parsed);
            _end = head_end + (_end - _parsed);
            _parsed = head_end;
        } else {
            place_head();
        }
    }
    // limits.hh: read_buffer_bytes >= head_bytes_max + recv_bytes_min, and
    // next() said need_more, so at most a partial head (<= head_bytes_max) or
    // a placed head is kept. Only a caller skipping next() can fail this.
    RINGKV_ASSERT(_end < limits::read_buffer_bytes);
    return {_buffer.get() + _end, limits::read_buffer_bytes - _end};
}

// Moves the message in progress (and what follows it) to the buffer's start.
void request_parser::place_head() {
    std::memmove(_buffer.get(), _buffer.get() + _start, _end - _start);
    _parsed -= _start;
    _end -= _start;
    _start = 0;
}

void request_parser::received(std::size_t bytes) {
    RINGKV_ASSERT(_end + bytes <= limits::read_buffer_bytes);
    _end += bytes;
    if (bytes > 0) _started = true;
}

request_parser::event request_parser::next() {
    if (_failure != failure::none) return event::failed;
    if (_message_finished) finish_message();
    if (_phase == phase::body) return frame_body();
    if (_phase == phase::idle && _parsed == _end) return event::need_more;
    return parse_head();
}

// The caller is done with the message (its handler has run): the body is
// emptied, and a big one's memory given back, before the connection waits,
// perhaps idle for long, for the next message.
void request_parser::finish_message() {
    _message_finished = false;
    if (_body.capacity() > limits::retained_body_bytes_max) {
        std::string().swap(_body);
    } else {
        _body.clear();
    }
    // Bytes of the next message already buffered (pipelined) stay where
    // they are; place_head() moves them when room runs short.
    if (_parsed != _end) return;
    // Nothing of the next message has arrived: it starts over at offset 0,
    // so a keep-alive connection of small requests keeps writing the same
    // first bytes of the buffer and its other pages are never touched
    // (never made resident). No view is out: those of this message end
    // here, by the contract of head(), and nothing after it was received.
    RINGKV_DEBUG_ASSERT(_phase == phase::idle && !_started);
    _start = _parsed = _end = 0;
    // A message longer than the read buffer went through all of it; the
    // buffer goes too, as for a connection that has sent nothing
    // (free_space() allocates it again). Small messages, the hot path, keep
    // it.
    if (_head_bytes + _body_bytes >= limits::read_buffer_bytes) _buffer.reset();
}

request_parser::event request_parser::fail_now(failure f) {
    if (_failure == failure::none) _failure = f;
    return event::failed;
}

int request_parser::fail(failure f) {
    if (_failure == failure::none) _failure = f;
    return -1;  // llhttp stops with a callback error
}

// --- Heads, with llhttp -----------------------------------------------------

request_parser::event request_parser::parse_head() {
    for (;;) {
        if (_paused) {
            _paused = false;
            llhttp_resume(&_parser);
        }
        const char* data = _buffer.get() + _parsed;
        const llhttp_errno_t status = llhttp_execute(&_parser, data, _end - _parsed);
        const std::size_t stop =
            status == HPE_OK ? _end : std::size_t(llhttp_get_error_pos(&_parser) - _buffer.get());
        // Before any other verdict, even an error llhttp or one of our
        // callbacks reported further on: a bare LF before it came first, and
        // the answer must not depend on where the stream was cut (fed whole,
        // the later error is reached in the same call).
        if (!lines_end_in_crlf(stop)) {
            _failure = failure::malformed;
            return event::failed;
        }
        if (status == HPE_OK) {
            _parsed = _end;
            // Blank lines before a request count: they are bounded like it.
            if (_parsed - _start > limits::head_bytes_max) {
                return fail_now(_url.bytes > limits::target_bytes_max ? failure::target_too_long
                                                                       : failure::header_too_large);
            }
            return event::need_more;
        }
        if (status == HPE_PAUSED_UPGRADE) {
            // CONNECT or Upgrade: llhttp would hand the rest of the stream to
            // another protocol. We speak only HTTP/1.1, so parsing goes on
            // (the connection refuses CONNECT itself).
            _parsed = stop;
            llhttp_resume_after_upgrade(&_parser);
            continue;
        }
        if (status == HPE_PAUSED && _head_done) {
            _paused = true;
            return on_head_complete(stop);
        }
        if (status == HPE_PAUSED_H2_UPGRADE) return fail_now(failure::version_not_supported);
        if (status == HPE_INVALID_VERSION) return fail_now(version_failure());
        return fail_now(failure::malformed);
    }
}

// Every line of a head ends in CRLF, blank lines before the request line
// included (RFC 9112 2.2 lets a server refuse a bare LF; llhttp takes one
// after the request line and as the blank line that ends the head, but not
// after a header line). Checks the bytes llhttp consumed up to `stop`: each
// LF must follow a CR of this message. Each byte is looked at once.
bool request_parser::lines_end_in_crlf(std::size_t stop) const {
    const char* const message = _buffer.get() + _start;
    const char* at = _buffer.get() + _parsed;
    const char* const end = _buffer.get() + stop;
    while ((at = static_cast<const char*>(std::memchr(at, '\n', std::size_t(end - at)))) != nullptr) {
        if (at == message || at[-1] != '\r') return false;
        ++at;
    }
    return true;
}

// "HTTP/1.2", "HTTP/3.0": a version we do not speak (505). Anything else
// llhttp refuses there ("HTTP/1.10", "HTTP/x", "HTTP/1.1 " with a space) is
// not HTTP (400).
request_parser::failure request_parser::version_failure() const {
    const std::string_view v = view(_version);
    const bool well_formed = v.size() == 3 && v[0] >= '0' && v[0] <= '9' && v[1] == '.' && v[2] >= '0' && v[2] <= '9';
    const bool ours = v == "1.0" || v == "1.1";
    return well_formed && !ours ? failure::version_not_supported : failure::malformed;
}

request_parser::event request_parser::on_head_complete(std::size_t head_end) {
    const std::size_t head_bytes = head_end - _start;
    if (head_bytes > limits::head_bytes_max) return fail_now(failure::header_too_large);
    _parsed = head_end;
    // The head stays where it is until the message ends; make sure a recv's
    // worth of room follows it (limits.hh's static_assert).
    if (limits::read_buffer_bytes - head_end < limits::recv_bytes_min) place_head();
    _head_bytes = head_bytes;
    if (!build_head()) return fail_now(failure::malformed);
    _phase = phase::body;
    _body_bytes = 0;
    _keep_body = false;
    _body_bytes_max = 0;
    _line_bytes = 0;
    _trailer_bytes = 0;
    _left = 0;
    if (_head.chunked) {
        _body_state = body_state::size;
    } else if (_content_length > 0) {
        _body_state = body_state::identity;
        _left = _content_length;
    } else {
        _body_state = body_state::done;
    }
    return event::head_ready;
}

int request_parser::extend(span& s, const char* at, std::size_t bytes) {
    const std::size_t offset = std::size_t(at - (_buffer.get() + _start));
    if (s.bytes == 0) {
        s.offset = std::uint32_t(offset);
    } else if (s.offset + s.bytes != offset) {
        return fail(failure::malformed);  // llhttp reports pieces of a span in order, without gaps
    }
    s.bytes += std::uint32_t(bytes);
    return 0;
}

std::string_view request_parser::view(span s) const {
    return {_buffer.get() + _start + s.offset, s.bytes};
}

int request_parser::on_message_begin(llhttp_t* p) {
    request_parser& self = owner(p);
    self._phase = phase::head;
    self._head_done = false;
    self._method = self._url = self._version = self._field = self._value = {};
    self._content_type = self._authorization = self._expect = self._transfer_encoding = {};
    self._header_block_bytes = 0;
    self._host_headers = 0;
    self._content_type_headers = self._authorization_headers = 0;
    self._transfer_encoding_headers = 0;
    RINGKV_DEBUG_ASSERT(self._body.empty());  // emptied when the last message was finished
    return 0;
}

int request_parser::on_method(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    return self.extend(self._method, at, bytes);
}

int request_parser::on_url(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    if (self.extend(self._url, at, bytes) != 0) return -1;
    // A target ended by the end of the line is HTTP/0.9 ("GET /x" CRLF):
    // llhttp would wait for more before saying so, if ever.
    const char* const after = at + bytes;
    if (after < self._buffer.get() + self._end && (*after == '\r' || *after == '\n')) {
        return self.fail(failure::malformed);
    }
    if (self._url.bytes > limits::target_bytes_max) return self.fail(failure::target_too_long);
    return 0;
}

// The request line is exactly "method SP target SP version" (RFC 9112 3):
// llhttp skips extra spaces and takes "GET /x" + CRLF for HTTP/0.9.
int request_parser::on_url_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    const span url = self._url;
    if (url.bytes == 0 || url.offset != self._method.offset + self._method.bytes + 1) {
        return self.fail(failure::malformed);
    }
    // llhttp calls this on the byte after the target, so it is in the buffer.
    if (self._buffer[self._start + url.offset + url.bytes] != ' ') return self.fail(failure::malformed);
    return 0;
}

int request_parser::on_version(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    return self.extend(self._version, at, bytes);
}

int request_parser::on_version_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    if (self._version.offset != self._url.offset + self._url.bytes + version_prefix_bytes) {
        return self.fail(failure::malformed);
    }
    if (p->http_major != 1 || p->http_minor > 1) return self.fail(failure::version_not_supported);
    return 0;
}

int request_parser::on_header_field(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    if (self.extend(self._field, at, bytes) != 0) return -1;
    self._header_block_bytes += bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    return 0;
}

int request_parser::on_header_value(llhttp_t* p, const char* at, std::size_t bytes) {
    request_parser& self = owner(p);
    if (bytes == 0) return 0;
    // An obs-fold continuation line (RFC 9112 5.2) is 400: llhttp accepts it
    // and would hand the value out in pieces with a CRLF between them.
    if (self._value.bytes == 0 && self.follows_line_feed(at)) return self.fail(failure::malformed);
    if (self.extend(self._value, at, bytes) != 0) return -1;
    self._header_block_bytes += bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    return 0;
}

// Whether only spaces and tabs separate `at` from the line feed before it:
// a value that starts a line is a continuation (a value follows its colon).
// Each whitespace byte before a value is looked at once.
bool request_parser::follows_line_feed(const char* at) const {
    const char* head = _buffer.get() + _start;
    while (at > head && (at[-1] == ' ' || at[-1] == '\t')) --at;
    return at > head && at[-1] == '\n';
}

int request_parser::on_header_value_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    self._header_block_bytes += header_line_overhead_bytes;
    if (self._header_block_bytes > limits::header_block_bytes_max) return self.fail(failure::header_too_large);
    if (self._field.bytes == 0) return self.fail(failure::malformed);  // ": value"
    const std::string_view name = self.view(self._field);
    if (name_is(name, "content-type")) {
        if (++self._content_type_headers > 1) return self.fail(failure::malformed);
        self._content_type = self._value;
    } else if (name_is(name, "authorization")) {
        if (++self._authorization_headers > 1) return self.fail(failure::malformed);
        self._authorization = self._value;
    } else if (name_is(name, "expect")) {
        self._expect = self._value;
    } else if (name_is(name, "host")) {
        ++self._host_headers;
    } else if (name_is(name, "transfer-encoding")) {
        // llhttp joins repeated lines into one list ("gzip" then "chunked"
        // reads as "gzip, chunked") and checks only that chunked comes last;
        // check_head wants exactly one line, so it sees every coding.
        ++self._transfer_encoding_headers;
        self._transfer_encoding = self._value;
    }
    self._field = self._value = {};
    return 0;
}

// The RFC 9112 rules llhttp (8.1, strict) leaves to us; 0 or -1.
int request_parser::check_head() {
    const bool http11 = _parser.http_minor == 1;
    // 3.2: exactly one Host on HTTP/1.1, at most one on HTTP/1.0.
    if (_host_headers > 1 || (http11 && _host_headers == 0)) return fail(failure::malformed);
    if ((_flags & F_TRANSFER_ENCODING) != 0 || _transfer_encoding_headers > 0) {
        // 6.1: chunked is the only coding we know, applied once: the codings
        // of all Transfer-Encoding lines together must be exactly "chunked"
        // ("gzip, chunked" passes llhttp, and so does "gzip" on one line and
        // "chunked" on the next). HTTP/1.0 has no Transfer-Encoding at all
        // (6.1: faulty framing); with Content-Length it is smuggling (6.3).
        if (!http11 || _transfer_encoding_headers != 1 || !name_is(trim(view(_transfer_encoding)), "chunked")) {
            return fail(failure::malformed);
        }
        if ((_flags & F_CONTENT_LENGTH) != 0) return fail(failure::malformed);
    }
    return 0;
}

int request_parser::on_headers_complete(llhttp_t* p) {
    request_parser& self = owner(p);
    self._flags = p->flags;
    self._content_length = (p->flags & F_CONTENT_LENGTH) != 0 ? p->content_length : 0;
    if (self.check_head() != 0) return -1;
    request_head& h = self._head;
    h = request_head{};
    h.method = method_of(llhttp_get_method(p));
    h.chunked = (p->flags & F_CHUNKED) != 0;
    if (!h.chunked && (p->flags & F_CONTENT_LENGTH) != 0) h.content_length = p->content_length;
    h.keep_alive = llhttp_should_keep_alive(p) != 0;
    h.version_minor = llhttp_get_http_minor(p);
    // The body is framed by us: 1 tells llhttp there is none, so it pauses
    // in on_message_complete right at the end of the head.
    return 1;
}

int request_parser::on_message_complete(llhttp_t* p) {
    owner(p)._head_done = true;
    return HPE_PAUSED;
}

// Views into the head, which stays put from now until the message ends.
bool request_parser::build_head() {
    request_head& h = _head;
    h.target = view(_url);
    const std::size_t question = h.target.find('?');
    h.path = h.target.substr(0, question);
    h.query = question == std::string_view::npos ? std::string_view{} : h.target.substr(question + 1);
    h.content_type = trim(view(_content_type));
    h.authorization = trim(view(_authorization));
    // RFC 9110 10.1.1: a server ignores 100-continue from HTTP/1.0.
    h.expect_continue = h.version_minor == 1 && name_is(trim(view(_expect)), "100-continue");
    // llhttp (strict) refuses these already; the views reach stored values
    // and response heads, so they are checked where they are made.
    return !holds_control(h.target) && !holds_control(h.content_type) && !holds_control(h.authorization);
}

// --- Bodies ------------------------------------------------------------------

void request_parser::accept_body(std::size_t body_bytes_max) {
    _keep_body = true;
    _body_bytes_max = body_bytes_max;
    if (_head.content_length && *_head.content_length <= body_bytes_max) _body.reserve(*_head.content_length);
}

void request_parser::discard_body(std::size_t body_bytes_max) {
    _keep_body = false;
    _body_bytes_max = body_bytes_max;
}

bool request_parser::take_body(const char* data, std::size_t bytes) {
    _body_bytes += bytes;
    if (_body_bytes > _body_bytes_max) return false;
    if (_keep_body) _body.append(data, bytes);
    return true;
}

request_parser::event request_parser::frame_body() {
    const char* data = _buffer.get() + _parsed;
    const std::size_t available = _end - _parsed;
    if (_body_state == body_state::identity) {
        const std::size_t bytes = std::size_t(std::min<std::uint64_t>(_left, available));
        if (!take_body(data, bytes)) return fail_now(failure::body_too_large);
        _parsed += bytes;
        _left -= bytes;
        if (_left == 0) _body_state = body_state::done;
    } else if (_body_state != body_state::done) {
        _parsed += frame_chunked(data, available);
        if (_failure != failure::none) return event::failed;
    }
    if (_body_state != body_state::done) return event::need_more;
    _message_finished = true;
    _phase = phase::idle;
    _start = _parsed;
    _started = _parsed < _end;
    return event::message_ready;
}

// RFC 9112 7.1, strictly: hex size, optional BWS and ";extensions" (ignored,
// no control characters), CRLF; data; CRLF; after the last chunk, trailer
// fields (token ":" value CRLF, ignored) and a final CRLF. Anything else is
// 400, so no request hides inside a body. Returns the bytes consumed; stops
// at the end of the body or at a failure.
std::size_t request_parser::frame_chunked(const char* data, std::size_t bytes) {
    std::size_t i = 0;
    while (i < bytes && _body_state != body_state::done) {
        if (_body_state == body_state::data) {
            i += chunk_data(data + i, bytes - i);
            continue;
        }
        const char c = data[i++];
        bool ok = false;
        switch (_body_state) {
            case body_state::size:
            case body_state::size_bws:
            case body_state::extension:
            case body_state::size_lf: ok = chunk_size_byte(c); break;
            case body_state::data_cr:
            case body_state::data_lf: ok = chunk_end_byte(c); break;
            case body_state::trailer_start:
            case body_state::trailer_name:
            case body_state::trailer_value:
            case body_state::trailer_lf:
            case body_state::final_lf: ok = trailer_byte(c); break;
            case body_state::identity:
            case body_state::data:
            case body_state::done: RINGKV_DEBUG_ASSERT(false); break;
        }
        if (!ok) break;
    }
    return i;
}

bool request_parser::refuse_body(failure f) {
    fail(f);
    return false;
}

// One byte of a chunk-size line: hex digits, BWS, ";extensions", CRLF.
bool request_parser::chunk_size_byte(char c) {
    if (++_line_bytes > limits::chunk_line_bytes_max) return refuse_body(failure::malformed);
    switch (_body_state) {
        case body_state::size:
            if (const int digit = hex_value(c); digit >= 0) {
                _left = _left * 16 + std::uint64_t(digit);
                // Checked here, so the data that follows is within the limit.
                if (_left > chunk_size_max || _left > _body_bytes_max - _body_bytes) {
                    return refuse_body(failure::body_too_large);
                }
                return true;
            }
            if (_line_bytes == 1) return refuse_body(failure::malformed);  // no digit
            _body_state = body_state::size_bws;
            [[fallthrough]];
        case body_state::size_bws:
            if (c == ';') _body_state = body_state::extension;
            else if (c == '\r') _body_state = body_state::size_lf;
            else if (c != ' ' && c != '\t') return refuse_body(failure::malformed);
            return true;
        case body_state::extension:
            if (c == '\r') _body_state = body_state::size_lf;
            else if (is_control(c)) return refuse_body(failure::malformed);
            return true;
        default:  // size_lf
            if (c != '\n') return refuse_body(failure::malformed);
            _body_state = _left == 0 ? body_state::trailer_start : body_state::data;
            return true;
    }
}

// Chunk data, up to the end of the chunk; returns the bytes taken.
std::size_t request_parser::chunk_data(const char* data, std::size_t bytes) {
    const std::size_t n = std::size_t(std::min<std::uint64_t>(_left, bytes));
    // The chunk's size was checked against the limit on its size line.
    [[maybe_unused]] const bool within_limit = take_body(data, n);
    RINGKV_DEBUG_ASSERT(within_limit);
    _left -= n;
    if (_left == 0) _body_state = body_state::data_cr;
    return n;
}

// The CRLF after chunk data: nothing else may follow the data (smuggling).
bool request_parser::chunk_end_byte(char c) {
    if (_body_state == body_state::data_cr) {
        if (c != '\r') return refuse_body(failure::malformed);
        _body_state = body_state::data_lf;
        return true;
    }
    if (c != '\n') return refuse_body(failure::malformed);
    _body_state = body_state::size;
    _line_bytes = 0;
    return true;
}

// One byte after the last chunk: trailer fields, then the final CRLF.
bool request_parser::trailer_byte(char c) {
    switch (_body_state) {
        case body_state::trailer_start:
            if (c == '\r') {
                _body_state = body_state::final_lf;
                return true;
            }
            if (!is_token(c)) return refuse_body(failure::malformed);  // an empty name, or a fold
            _body_state = body_state::trailer_name;
            break;
        case body_state::trailer_lf:
            if (c != '\n') return refuse_body(failure::malformed);
            _body_state = body_state::trailer_start;
            return true;
        case body_state::final_lf:
            if (c != '\n') return refuse_body(failure::malformed);
            _body_state = body_state::done;
            return true;
        default:
            break;
    }
    if (++_trailer_bytes > limits::trailer_bytes_max) return refuse_body(failure::header_too_large);
    if (_body_state == body_state::trailer_name) {
        // One token character or more (the first was checked), right up to the colon.
        if (c == ':') _body_state = body_state::trailer_value;
        else if (!is_token(c)) return refuse_body(failure::malformed);
    } else if (c == '\r') {
        _body_state = body_state::trailer_lf;
    } else if (is_control(c)) {
        return refuse_body(failure::malformed);
    }
    return true;
}

}  // namespace ringkv::net::http
