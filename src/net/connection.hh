#pragma once
// One client connection: a coroutine that reads requests, hands them to the
// handler in order, and sends the responses, many per send when pipelined.
// Owned by its coroutine frame; the server only sees its deadline hook.

#include <ringkv/base/limits.hh>
#include <ringkv/io/completion.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/deadline_list.hh>
#include <ringkv/net/http/request_parser.hh>
#include <ringkv/net/http/response.hh>
#include <ringkv/net/server.hh>

#include <array>
#include <string>

namespace ringkv::net {

class connection;

// The deadline of a flush (all its sends), from its start. Separate from
// the connection's own hook, so a flush between pipelined requests does
// not stop the clock of a head that has begun.
struct send_deadline : deadline_hook {
    connection* self = nullptr;
};

// A connection is its own deadline hook for the request clock (fresh, head
// or body, idle, lingering): the server's lists link connections. Each clock
// starts when its period starts and is never restarted by a read.
class connection : public deadline_hook {
public:
    connection(server& home, int fd);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Serves the connection until it closes; closes the fd at the end.
    io::task<> serve();

    // From the server: a deadline passed or a shutdown wants it gone.
    static connection& of(deadline_hook& hook);
    static connection& of_send(deadline_hook& hook);
    void interrupt(bool timed_out);

private:
    enum class next_step { keep_reading, close };

    io::task<bool> receive();
    io::task<bool> flush(http::external_body body = {});
    io::task<> linger();
    next_step on_head();
    static bool reads_whole_body(const http::request_head& head, std::size_t body_bytes_max, bool answered_at_head);
    void begin_response(const http::request_head& head, bool body_read);
    io::task<next_step> on_message();
    void on_parse_failure();
    void write_parse_failure();
    // Writes an error response and marks the connection to close after it.
    void answer_and_close(int status, std::string_view detail, std::string_view extra_headers = {});
    // Carries out what the control plane injected into the response just
    // written (http::injection): a delay before it leaves (earlier
    // pipelined responses leave first), then its fault, if any.
    io::task<next_step> deliver_injected();
    // Waits `ns` on an io_uring timeout; false when interrupted.
    io::task<bool> pause(std::uint64_t ns);
    // Sends `bytes` a piece at a time at bytes_per_second.
    io::task<bool> dribble(std::string_view bytes, std::uint32_t bytes_per_second);
    // Answers nothing until the client closes or the idle timeout.
    io::task<> hang();
    // Observing (server_options::observe): a request's clock starts at its
    // head (or failure); its response, once written, waits in _unsent until
    // the flush that hands it to the kernel reports it to the handler.
    // Deferred answers (net/http/handler.hh): offers the request to the
    // handler's batch; true when it was taken (its answer comes later).
    bool try_defer(http::request& request);
    // Runs the deferred requests' operations and writes their answers, in
    // order, ahead of anything written since they were taken. Callers ask
    // deferring() first (no coroutine frame per request when nothing waits).
    bool deferring() const { return _deferred_count != 0; }
    io::task<> settle();
    void start_request();
    void note_answer(const http::request_head* head, std::size_t out_before, std::size_t external_bytes = 0);
    void report_sent();
    bool unsent_full() const { return _unsent_count == _unsent.size(); }
    void arm(deadline_list& list);
    // Arms `list` unless the connection already waits in it, so a period's
    // clock runs from its start.
    void arm_once(deadline_list& list);

    server& _server;
    const int _fd;
    http::request_parser _parser;
    std::string _out;
    std::string _held;  // a response held back by an injected delay or fault
    http::response_writer _writer;
    http::request_scratch _scratch;
    send_deadline _send_deadline;
    io::completion* _pending = nullptr;  // the recv or send in flight, for cancel
    bool _timed_out = false;
    bool _interrupted = false;
    bool _answered_at_head = false;
    bool _close_after_response = false;
    std::uint64_t _requests = 0;
    const bool _observe;
    const bool _clock;  // observing or Server-Timing: read the clock per request
    std::uint64_t _started_ns = 0;
    std::array<http::exchange, limits::answers_unsent_max> _unsent;
    std::size_t _unsent_count = 0;
    // Requests taken by the handler whose answers are not written yet:
    // what their answers need from the connection.
    struct deferred_answer {
        std::uint64_t started_ns = 0;
        std::size_t unsent_index = 0;  // their note in _unsent, when observing
        std::uint8_t version_minor = 1;
    };
    std::array<deferred_answer, limits::deferred_answers_max> _deferred;
    std::size_t _deferred_count = 0;
    std::size_t _deferred_out_offset = 0;  // where their answers go in _out
    std::string _behind;  // answers written after them, moved behind them
};

}  // namespace ringkv::net
