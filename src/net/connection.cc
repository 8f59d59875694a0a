#include "connection.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/io/ops.hh>
#include <ringkv/net/http/error_response.hh>

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace ringkv::net {

using http::request_parser;

namespace {
constexpr std::string_view too_large_detail = "the request body is larger than this route accepts";
}  // namespace

connection::connection(server& home, int fd)
    : _server(home), _fd(fd), _writer(_out, home._loop.date_header()) {
    ++_server._open;
    _server._loop.hold();
}

connection::~connection() {
    deadline_list::disarm(*this);
    --_server._open;
    _server._loop.release();
}

connection& connection::of(deadline_hook& hook) {
    return static_cast<connection&>(hook);
}

void connection::interrupt(bool timed_out) {
    _timed_out = timed_out;
    _interrupted = true;
    if (_pending != nullptr) io::cancel(*_pending);
}

void connection::arm(deadline_list& list) { list.arm(*this, _server._loop.now_ms()); }

io::task<> connection::serve() {
    for (;;) {
        const request_parser::event event = _parser.next();
        if (event == request_parser::event::need_more) {
            if (!co_await flush()) break;
            if (!co_await receive()) break;
        } else if (event == request_parser::event::head_ready) {
            if (on_head() == next_step::close) break;
        } else if (event == request_parser::event::message_ready) {
            if (co_await on_message() == next_step::close) break;
        } else {
            on_parse_failure();
            break;
        }
    }
    const bool delivered = _out.empty() || co_await flush();
    if (delivered && _close_after_response) co_await linger();
    deadline_list::disarm(*this);
    co_await io::close(_fd);
}

// Waits for more input. False when the connection is done (EOF, error,
// timeout, shutdown); a timeout in the middle of a head is answered 408.
io::task<bool> connection::receive() {
    if (_interrupted) co_return false;
    const bool mid_request = _parser.in_message();
    if (!mid_request && _server._loop.stopping()) co_return false;  // drained between requests
    if (mid_request) {
        if (owner != &_server._reading) arm(_server._reading);
    } else {
        arm(_requests == 0 ? _server._fresh : _server._idle);
    }
    const std::int32_t received = co_await io::recv(_fd, _parser.free_space(), &_pending);
    if (!mid_request) deadline_list::disarm(*this);
    if (received > 0) {
        _parser.received(std::size_t(received));
        co_return true;
    }
    if (_timed_out && mid_request) {
        ++_server._counters.timed_out;
        _writer.begin(false, false, 1);
        answer_and_close(408, "the request was not received in time");
    }
    // received == 0: the peer closed; a request cut short gets no answer.
    co_return false;
}

// Sends the output buffer, then `body` (if any) from its owner's memory
// without copying it, resuming wherever a partial send stopped; releases
// the body after. False when the peer is gone.
io::task<bool> connection::flush(http::external_body body) {
    const std::size_t total = _out.size() + body.bytes.size();
    std::size_t sent = 0;
    bool ok = true;
    while (sent < total) {
        arm(_server._sending);
        std::int32_t result = 0;
        if (sent < _out.size() && body.bytes.empty()) {
            result = co_await io::send(_fd, {_out.data() + sent, _out.size() - sent}, &_pending);
        } else {
            // The rest of the buffer (if any), then the rest of the body.
            iovec parts[2];
            std::size_t count = 0;
            if (sent < _out.size()) parts[count++] = {_out.data() + sent, _out.size() - sent};
            const std::size_t body_sent = sent > _out.size() ? sent - _out.size() : 0;
            parts[count++] = {const_cast<char*>(body.bytes.data()) + body_sent, body.bytes.size() - body_sent};
            msghdr header{};
            header.msg_iov = parts;
            header.msg_iovlen = count;
            result = co_await io::sendmsg(_fd, &header, &_pending);
        }
        deadline_list::disarm(*this);
        if (result <= 0) {
            ok = false;
            break;
        }
        sent += std::size_t(result);
    }
    body.drop();
    _out.clear();
    co_return ok;
}

// After the last response of a closing connection: stop sending, then read
// and drop what the client still sends (bounded in time and bytes), so its
// kernel does not turn our close into a reset that discards the response.
io::task<> connection::linger() {
    co_await io::shutdown(_fd, SHUT_WR);
    _interrupted = false;
    arm(_server._lingering);
    std::size_t drained = 0;
    char sink[4096];
    while (!_interrupted && drained < limits::linger_bytes_max) {
        const std::int32_t received = co_await io::recv(_fd, {sink, sizeof(sink)}, &_pending);
        if (received <= 0) break;
        drained += std::size_t(received);
    }
    deadline_list::disarm(*this);
}

connection::next_step connection::on_head() {
    const http::request_head& head = _parser.head();
    _writer.begin(head.method == http::method::head, head.keep_alive && !_server._loop.stopping(),
                  head.version_minor);
    _answered_at_head = false;
    if (_parser.in_message() && head.body_follows()) arm(_server._reading);  // a fresh period for the body

    const http::head_verdict verdict = _server._handler.on_head(head, _writer, _scratch);
    switch (verdict.what) {
        case http::head_verdict::action::read_body:
            // The handler checks the size in its own order of checks; this
            // holds the HTTP layer's bound should it not.
            if (head.content_length.value_or(0) > verdict.body_bytes_max) {
                answer_and_close(413, too_large_detail);
                return next_step::close;
            }
            _parser.accept_body(verdict.body_bytes_max);
            if (head.expect_continue && head.body_follows()) _writer.write_continue();
            return next_step::keep_reading;
        case http::head_verdict::action::body_too_large:
            answer_and_close(413, too_large_detail);
            return next_step::close;
        case http::head_verdict::action::answered:
            RINGKV_DEBUG_ASSERT(_writer.written());
            _answered_at_head = true;
            if (head.body_follows() && head.expect_continue) {
                // The client waits for our word before sending the body; it
                // has the final answer, so it will not send it. Close.
                _writer.close_after();
                _close_after_response = true;
                return next_step::close;
            }
            _parser.discard_body(limits::discarded_body_bytes_max);
            return next_step::keep_reading;
    }
    return next_step::close;
}

io::task<connection::next_step> connection::on_message() {
    ++_requests;
    deadline_list::disarm(*this);
    if (!_answered_at_head) {
        http::request request{_parser.head(), _parser.body()};
        co_await _server._handler.on_request(request, _writer, _scratch);
        RINGKV_ASSERT(_writer.written());
        if (http::external_body body = _writer.take_external(); body.release != nullptr) {
            // Sent at once, so what follows it in the buffer stays in order.
            if (!co_await flush(body)) co_return next_step::close;
        }
    }
    if (!_writer.keep_alive()) {
        _close_after_response = true;
        co_return next_step::close;
    }
    if (_out.size() >= limits::output_flush_bytes && !co_await flush()) co_return next_step::close;
    co_return next_step::keep_reading;
}

void connection::answer_and_close(int status, std::string_view detail) {
    _writer.close_after();
    http::write_error(_writer, {status, http::error_code::bad_request, detail});
    _close_after_response = true;
}

void connection::on_parse_failure() {
    _close_after_response = true;
    const request_parser::failure failure = _parser.error();
    if (failure == request_parser::failure::body_too_large) {
        // A discarded body that ran too long was answered at head time already.
        if (!_answered_at_head) answer_and_close(413, too_large_detail);
        return;
    }
    _writer.begin(false, false, 1);  // the head may be incomplete: HTTP/1.1, close
    switch (failure) {
        case request_parser::failure::target_too_long:
            answer_and_close(414, "the request target is longer than 8192 bytes");
            return;
        case request_parser::failure::header_too_large:
            answer_and_close(431, "the request header block is larger than 16384 bytes");
            return;
        default:
            answer_and_close(400, "the request is not valid HTTP/1.1");
            return;
    }
}

}  // namespace ringkv::net
