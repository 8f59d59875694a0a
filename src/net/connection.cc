#include "connection.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/io/ops.hh>
#include <ringkv/net/http/error_response.hh>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace ringkv::net {

using http::request_parser;

namespace {
constexpr std::string_view too_large_detail = "the request body is larger than this route accepts";
}  // namespace

connection::connection(server& home, int fd)
    : _server(home),
      _fd(fd),
      _writer(_out, home._loop.date_header(), home._node_header, home._options.server_timing),
      _observe(home._options.observe),
      _clock(home._options.observe || home._options.server_timing) {
    _send_deadline.self = this;
    ++_server._open;
    _server._loop.hold();
}

connection::~connection() {
    deadline_list::disarm(*this);
    deadline_list::disarm(_send_deadline);
    --_server._open;
    _server._loop.release();
}

connection& connection::of(deadline_hook& hook) {
    return static_cast<connection&>(hook);
}

connection& connection::of_send(deadline_hook& hook) {
    return *static_cast<send_deadline&>(hook).self;
}

void connection::interrupt(bool timed_out) {
    _timed_out = timed_out;
    _interrupted = true;
    if (_pending != nullptr) io::cancel(*_pending);
}

void connection::arm(deadline_list& list) { list.arm(*this, _server._loop.real_now_ms()); }

void connection::arm_once(deadline_list& list) {
    if (owner != &list) arm(list);
}

io::task<> connection::serve() {
    for (;;) {
        const request_parser::event event = _parser.next();
        if (event == request_parser::event::need_more) {
            if (deferring()) co_await settle();  // nothing more to batch: answer before waiting
            if (!co_await flush()) break;
            if (!co_await receive()) break;
        } else if (event == request_parser::event::head_ready) {
            // A request that cannot join the deferred answers comes after them.
            if (deferring() && !_server._handler.may_defer(_parser.head())) co_await settle();
            // Room for this request's answer among those not yet sent.
            if (unsent_full()) {
                if (deferring()) co_await settle();
                if (!co_await flush()) break;
            }
            const next_step step = on_head();
            // Answered at head time (a check failed): after the deferred ones.
            if (deferring() && _writer.written()) co_await settle();
            // An answer given at head time leaves at the next flush, so a
            // delay or fault injected into it is carried out now.
            if (_answered_at_head && _writer.injected().any() && co_await deliver_injected() == next_step::close) break;
            if (step == next_step::close) break;
        } else if (event == request_parser::event::message_ready) {
            if (co_await on_message() == next_step::close) break;
        } else {
            if (deferring()) co_await settle();
            if (unsent_full()) co_await flush();
            on_parse_failure();
            break;
        }
    }
    if (deferring()) co_await settle();  // a request that closed the connection may follow deferred ones
    const bool delivered = _out.empty() || co_await flush();
    // Answers that send nothing (an injected reset, close or hang) end here.
    if (_unsent_count != 0) report_sent();
    if (delivered && _close_after_response) co_await linger();
    deadline_list::disarm(*this);
    co_await io::close(_fd);
}

// Waits for more input. False when the connection is done (EOF, error,
// timeout, shutdown). Clocks: between requests the fresh/idle clock runs from
// the start of the wait; the first byte of the next message (a blank line
// included) starts the header clock, and no later read restarts either.
// A timeout in the middle of a request line or head is answered 408, unless
// the request was answered already (its body was being discarded).
io::task<bool> connection::receive() {
    if (_interrupted) co_return false;
    const bool mid_request = _parser.in_message();
    if (!mid_request && _server._loop.stopping()) co_return false;  // drained between requests
    arm_once(mid_request ? _server._reading : _requests == 0 ? _server._fresh : _server._idle);
    // A connection that has sent nothing holds no read buffer, nor one idle
    // after a big message (the parser gave it back): wait for bytes before
    // the parser takes one. After a small message the buffer stays (no
    // allocation or poll per request), but the parser starts a request
    // over at its start when nothing follows the last one, so a client
    // that waits for each answer keeps only what its requests span
    // resident (a page for small ones); giving that back too wants buffers
    // the kernel picks at completion (provided buffer rings).
    std::int32_t received = 0;
    if (_parser.holds_buffer() || (co_await io::poll_readable(_fd, &_pending) > 0 && !_interrupted)) {
        received = co_await io::recv(_fd, _parser.free_space(), &_pending);
    }
    if (received > 0) {
        _server._counters.bytes_received += std::uint64_t(received);
        _parser.received(std::size_t(received));
        if (!mid_request) arm(_server._reading);  // the next message has begun
        co_return true;
    }
    if (_timed_out && _parser.request_begun() && !_answered_at_head) {
        ++_server._counters.timed_out;
        start_request();
        _writer.begin(false, false, 1);
        const std::size_t out_before = _out.size();
        answer_and_close(408, "the request was not received in time");
        note_answer(nullptr, out_before);
    }
    // received == 0: the peer closed; a request cut short gets no answer.
    co_return false;
}

// Sends the output buffer, then `body` (if any) from its owner's memory
// without copying it, resuming wherever a partial send stopped; releases
// the body after. False when the peer is gone or too slow: the whole flush,
// all its partial sends, has one deadline (the idle timeout, from its
// start), so a client reading a little at a time cannot hold it forever.
io::task<bool> connection::flush(http::external_body body) {
    const std::size_t total = _out.size() + body.bytes.size();
    std::size_t sent = 0;
    bool ok = true;
    if (total > 0) _server._sending.arm(_send_deadline, _server._loop.real_now_ms());
    while (sent < total) {
        // Expiry disarms the deadline and cancels the send in flight; a send
        // that completed anyway must not start another.
        if (!_send_deadline.armed()) {
            ok = false;
            break;
        }
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
        if (result <= 0) {
            ok = false;
            break;
        }
        sent += std::size_t(result);
    }
    _server._counters.bytes_sent += sent;
    deadline_list::disarm(_send_deadline);
    body.drop();
    if (_unsent_count != 0) report_sent();
    // A big response (a long key listing) leaves a big buffer; give it back
    // rather than hold it while the connection idles.
    if (_out.capacity() > limits::retained_output_bytes_max) {
        std::string().swap(_out);
    } else {
        _out.clear();
    }
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

// Whether the connection can stay open after answering `head`: it can only
// when it reads the whole body, to find where the next request starts. It
// will not when the body may be longer than body_bytes_max (a known length
// past it; a chunked body's length is not known until it ends, see
// on_parse_failure), or when the client waits for "100 Continue" that an
// answer at head time never sends, so it may never send the body.
bool connection::reads_whole_body(const http::request_head& head, std::size_t body_bytes_max,
                                  bool answered_at_head) {
    if (!head.body_follows()) return true;
    // expect_continue is never set for HTTP/1.0.
    if (answered_at_head && head.expect_continue) return false;
    return head.content_length.value_or(0) <= body_bytes_max;
}

// The one place the response's keep-alive is decided: the client's wish,
// the server not draining, and the body being read whole.
void connection::begin_response(const http::request_head& head, bool body_read) {
    const bool keep_alive = head.keep_alive && !_server._loop.stopping() && body_read;
    _writer.begin(head.method == http::method::head, keep_alive, head.version_minor);
}

connection::next_step connection::on_head() {
    const http::request_head& head = _parser.head();
    start_request();
    const std::size_t out_before = _out.size();
    // The handler may answer now; then the body is discarded, up to
    // discarded_body_bytes_max, and the head of that answer must already
    // say whether the connection survives it.
    begin_response(head, reads_whole_body(head, limits::discarded_body_bytes_max, true));
    _answered_at_head = false;
    if (head.body_follows()) arm(_server._reading);  // a fresh period for the body

    if (head.method == http::method::connect) {
        // Authority-form targets are for proxies; one answer, then close
        // (the bytes that follow would be another protocol).
        answer_and_close(405, "CONNECT is not supported", "Allow: GET, HEAD, POST, PUT, DELETE\r\n");
        note_answer(nullptr, out_before);
        return next_step::close;
    }
    _scratch.connection_request = _requests;
    const http::head_verdict verdict = _server._handler.on_head(head, _writer, _scratch);
    switch (verdict.what) {
        case http::head_verdict::action::read_body:
        case http::head_verdict::action::ignore_body:
            // The handler checks the size in its own order of checks; this
            // holds the HTTP layer's bound should it not.
            if (!reads_whole_body(head, verdict.body_bytes_max, false)) {
                answer_and_close(413, too_large_detail);
                note_answer(&head, out_before);
                return next_step::close;
            }
            begin_response(head, true);  // answered after the body: it is read whole
            if (verdict.what == http::head_verdict::action::read_body) {
                _parser.accept_body(verdict.body_bytes_max);
            } else {
                _parser.discard_body(verdict.body_bytes_max);
            }
            if (head.expect_continue && head.body_follows()) _writer.write_continue();
            return next_step::keep_reading;
        case http::head_verdict::action::body_too_large:
            answer_and_close(413, too_large_detail);
            note_answer(&head, out_before);
            return next_step::close;
        case http::head_verdict::action::answered:
            RINGKV_DEBUG_ASSERT(_writer.written());
            note_answer(&head, out_before);
            _answered_at_head = true;
            if (!_writer.keep_alive()) {
                // The answer says Connection: close: send it and linger (as
                // after a 413), without reading a body we would drop.
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
    const bool answered = _answered_at_head;
    _answered_at_head = false;
    if (!answered) {
        http::request request{_parser.head(), _parser.body()};
        if (try_defer(request)) co_return next_step::keep_reading;
        if (deferring()) {
            // It could not join this batch (full, or its key is in it):
            // the batch goes first, and the request may start the next.
            co_await settle();
            if (try_defer(request)) co_return next_step::keep_reading;
        }
        const std::size_t out_before = _out.size();
        co_await _server._handler.on_request(request, _writer, _scratch);
        RINGKV_ASSERT(_writer.written());
        note_answer(&_parser.head(), out_before, _writer.external_bytes());
        if (_writer.injected().any()) co_return co_await deliver_injected();
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

io::task<connection::next_step> connection::deliver_injected() {
    const http::injection what = _writer.injected();
    _writer.inject({});
    http::external_body body = _writer.take_external();
    // This response waits; the pipelined responses before it leave now.
    const std::size_t offset = std::min(_writer.response_offset(), _out.size());
    _held.assign(_out, offset);
    _out.resize(offset);
    // Its report waits with it (it was noted last): its server time runs
    // until it is sent, the delay included.
    const bool noted = _unsent_count != 0;
    const http::exchange held_note = noted ? _unsent[--_unsent_count] : http::exchange{};
    bool ok = _out.empty() || co_await flush();
    if (ok && what.delay_us > 0) ok = co_await pause(std::uint64_t(what.delay_us) * 1000);
    if (noted) _unsent[_unsent_count++] = held_note;  // room: the flush reported the others
    if (!ok) {
        body.drop();
        _held.clear();
        co_return next_step::close;
    }
    using transport = http::injection::transport;
    if (what.fault == transport::dribble || what.fault == transport::truncate) {
        _held.append(body.bytes);  // one buffer: these send it in their own way
        body.drop();
    }
    switch (what.fault) {
        case transport::none:
            _out.swap(_held);
            _held.clear();
            if (!co_await flush(body)) co_return next_step::close;
            break;
        case transport::reset: {
            // SO_LINGER with a zero timeout: close() sends RST, not FIN.
            body.drop();
            const ::linger reset_on_close{1, 0};
            ::setsockopt(_fd, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof(reset_on_close));
            _close_after_response = false;
            co_return next_step::close;
        }
        case transport::close:
            // FIN with nothing before it (the linger after it sends FIN
            // first and drains, so unread input does not turn it into RST).
            body.drop();
            _close_after_response = true;
            co_return next_step::close;
        case transport::hang:
            body.drop();
            co_await hang();
            _close_after_response = false;
            co_return next_step::close;
        case transport::dribble:
            ok = co_await dribble(_held, what.bytes_per_second);
            if (!ok) co_return next_step::close;
            break;
        case transport::truncate: {
            // A correct head (its Content-Length says the whole body), then
            // half the body, then FIN.
            const std::size_t head_end = _held.find("\r\n\r\n");
            const std::size_t head_bytes = head_end == std::string::npos ? _held.size() : head_end + 4;
            _out.assign(_held, 0, head_bytes + (_held.size() - head_bytes) / 2);
            _close_after_response = true;
            co_return next_step::close;
        }
    }
    if (_held.capacity() > limits::retained_output_bytes_max) std::string().swap(_held);
    _held.clear();
    if (!_writer.keep_alive()) {
        _close_after_response = true;
        co_return next_step::close;
    }
    co_return next_step::keep_reading;
}

// False when the connection must close instead of answering: a forced
// stop, or the peer hung up meanwhile (its slot is not held for the rest of
// a delay of up to ten minutes; nobody would read the answer).
io::task<bool> connection::pause(std::uint64_t ns) {
    if (_interrupted) co_return false;
    arm(_server._injected);
    const std::int32_t peer_left = co_await io::hangup_within(_fd, ns, &_pending);
    deadline_list::disarm(*this);
    co_return !_interrupted && peer_left <= 0;
}

io::task<bool> connection::dribble(std::string_view bytes, std::uint32_t bytes_per_second) {
    // A tenth of a second's worth per piece (at least a byte), each piece
    // after its share of time; each goes out through flush(), so a client
    // that stops reading is cut by the send deadline as usual.
    const std::size_t piece = std::max<std::size_t>(1, bytes_per_second / 10);
    const std::uint64_t piece_ns = std::uint64_t(piece) * 1'000'000'000 / bytes_per_second;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        _out.assign(bytes.substr(at, piece));
        if (!co_await flush()) co_return false;
        if (at + piece < bytes.size() && !co_await pause(piece_ns)) co_return false;
    }
    co_return true;
}

io::task<> connection::hang() {
    arm(_server._idle);
    char sink[4096];
    while (!_interrupted) {
        const std::int32_t received = co_await io::recv(_fd, {sink, sizeof(sink)}, &_pending);
        if (received <= 0) break;
    }
    deadline_list::disarm(*this);
}

bool connection::try_defer(http::request& request) {
    // Only answers that keep the connection open: one that closes it ends
    // the batch with itself.
    if (!_writer.keep_alive() || _deferred_count == _deferred.size()) return false;
    if (!_server._handler.defer(request, _scratch, _parser.has_unparsed())) return false;
    if (_deferred_count == 0) _deferred_out_offset = _out.size();
    deferred_answer& d = _deferred[_deferred_count++];
    d.started_ns = _started_ns;
    d.version_minor = request.head.version_minor;
    d.unsent_index = _unsent_count;
    note_answer(&request.head, _out.size());  // status 0: its status and size are filled in at settle()
    return true;
}

io::task<> connection::settle() {
    // The request in progress (begun, or answered at head time) keeps its
    // writer state; its answer, if written, moves behind the deferred ones.
    http::response_writer::request_state current = _writer.save();
    _behind.assign(_out, _deferred_out_offset);
    _out.resize(_deferred_out_offset);
    co_await _server._handler.run_deferred(_scratch);
    for (std::size_t i = 0; i < _deferred_count; ++i) {
        const deferred_answer& d = _deferred[i];
        _writer.begin(false, true, d.version_minor);
        _writer.start_request(d.started_ns);
        const std::size_t out_before = _out.size();
        _server._handler.write_deferred(i, _writer, _scratch);
        RINGKV_ASSERT(_writer.written());
        if (_observe) {
            http::exchange& done = _unsent[d.unsent_index];
            done.status = std::uint16_t(_writer.status());
            done.bytes_out = std::uint32_t(_out.size() - out_before);
            _server._handler.on_settled(done);
        }
    }
    _deferred_count = 0;
    if (current.response_offset >= _deferred_out_offset) current.response_offset += _out.size() - _deferred_out_offset;
    _out.append(_behind);
    _behind.clear();
    _writer.restore(current);
}

void connection::start_request() {
    if (!_clock) return;
    _started_ns = base::monotonic_ns();
    _writer.start_request(_started_ns);
}

// The response just written (from out_before in the output buffer, and an
// external body of external_bytes) waits to be sent; the handler names it
// while the request's head and scratch are still its own.
void connection::note_answer(const http::request_head* head, std::size_t out_before, std::size_t external_bytes) {
    if (!_observe) return;
    RINGKV_DEBUG_ASSERT(!unsent_full());
    http::exchange& done = _unsent[_unsent_count++];
    done = {};
    done.started_ns = _started_ns;
    done.bytes_in = std::uint32_t(_parser.message_bytes());
    done.bytes_out = std::uint32_t(_out.size() - out_before + external_bytes);
    done.injected_delay_us = _writer.injected_delay_us();
    done.status = std::uint16_t(_writer.status());
    done.method = head != nullptr ? head->method : http::method::other;
    _server._handler.on_answered(head, _scratch, done);
}

// After a flush: every response written so far has reached the kernel (or
// the peer is gone); their clocks stop now.
void connection::report_sent() {
    const std::uint64_t now_ns = base::monotonic_ns();
    for (std::size_t i = 0; i < _unsent_count; ++i) {
        http::exchange& done = _unsent[i];
        done.duration_ns = now_ns > done.started_ns ? now_ns - done.started_ns : 0;
        _server._handler.on_complete(done);
    }
    _unsent_count = 0;
}

void connection::answer_and_close(int status, std::string_view detail, std::string_view extra_headers) {
    _writer.close_after();
    http::write_error(_writer, {status, http::error_code::bad_request, detail}, extra_headers);
    _close_after_response = true;
}

void connection::on_parse_failure() {
    _close_after_response = true;
    // A request answered at head time whose discarded body went wrong has
    // had its one answer: close without another. A known length past the
    // discard limit never gets here (that answer said Connection: close);
    // a chunked body does, when it passes discarded_body_bytes_max or is
    // malformed. Its answer already said keep-alive and a second response
    // would answer nothing, so the honest end is the one left: the answer
    // was sent in full, and the connection lingers before it closes, so the
    // client reads that answer followed by a clean close, never a reset.
    if (_answered_at_head) return;
    const std::size_t out_before = _out.size();
    if (_parser.error() == request_parser::failure::body_too_large) {
        // The head was the handler's: the request keeps its clock and route.
        answer_and_close(413, too_large_detail);
        note_answer(&_parser.head(), out_before);
        return;
    }
    start_request();
    write_parse_failure();
    note_answer(nullptr, out_before);
}

void connection::write_parse_failure() {
    const request_parser::failure failure = _parser.error();
    _writer.begin(false, false, 1);  // the head may be incomplete: HTTP/1.1, close
    switch (failure) {
        case request_parser::failure::target_too_long:
            answer_and_close(414, "the request target is longer than 8192 bytes");
            return;
        case request_parser::failure::header_too_large:
            answer_and_close(431, "the request header block is larger than 16384 bytes");
            return;
        case request_parser::failure::version_not_supported:
            answer_and_close(505, "only HTTP/1.1 and HTTP/1.0 are supported");
            return;
        default:
            answer_and_close(400, "the request is not valid HTTP/1.1");
            return;
    }
}

}  // namespace ringkv::net
