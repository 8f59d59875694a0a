#pragma once
// Pipelined writes of one connection taken together (net/http/handler.hh,
// "deferred answers"): their operations run with one message per owner core
// (the coordinator's own keys inline), and their answers are written later,
// in request order.
//
// Which requests join, precisely (service::may_defer and service::defer):
// a PUT or DELETE of one key (route one_key), with no steering rule list in
// force on this core (fault injection and rate limits stay per request), a
// response that keeps the connection open, no "Expect: 100-continue", and a
// key (namespace number and key bytes) that no earlier request of the batch
// names. Anything else ends the batch before it runs or is answered: a GET
// or HEAD (it must see the writes before it: reads go to the shard in place,
// not through the owner's queue), a listing, a namespace or control route,
// a write to a key already in the batch, a 17th write.
//
// Why this is safe: the batch's keys are distinct, so the order in which
// their owners apply them cannot be observed by this connection; each
// owner applies its own in request order. Every answer waits for its
// record to be durable as before (--log always): one wait per owner for
// the batch's last ticket there, each ticket after a failure.

#include "owner.hh"
#include "plan.hh"

#include <ringkv/base/limits.hh>
#include <ringkv/io/completion.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/http/error_response.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/net/http/response.hh>

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ringkv::api {

class write_batch {
public:
    static constexpr std::size_t writes_max = limits::deferred_answers_max;

    // Takes the request (a PUT or DELETE of p's key): false when the batch
    // is full or already names the key. A PUT's body is swapped out of
    // the request (no copy); one the checks refuse is answered later with
    // its error, and never runs.
    bool add(const plan& p, net::http::request& request);
    std::size_t size() const { return _count; }
    bool empty() const { return _count == 0; }

    // Runs every write once (later calls return at once), then waits until
    // each may be acknowledged. The batch must stay alive until it returns.
    io::task<> run();
    // Writes the answer of write `index` (0 = oldest), after run().
    void answer(std::size_t index, net::http::response_writer& writer) const;
    // Empties the batch for reuse; big value buffers are given back.
    void clear();

private:
    struct write {
        enum class kind : std::uint8_t { put, erase, refused };
        kind what = kind::put;
        unsigned owner = 0;
        std::uint64_t hash = 0;
        std::uint32_t namespace_number = 0;
        std::uint16_t key_bytes = 0;
        char key[key_bytes_max];
        std::string value;         // PUT: the request's body, swapped in
        std::string content_type;  // PUT
        std::uint64_t ttl_ms = 0;
        std::optional<net::http::error> refusal;  // kind::refused (static texts only)
        // Filled on the owner.
        put_outcome put_result = put_outcome::created;
        std::optional<store::change_log::ticket> ticket;  // none: the log refused it
        bool durable = true;  // false: the record could not be written
        std::string_view key_view() const { return {key, key_bytes}; }
    };
    // A message to one owner core: it runs that core's writes there and
    // comes home.
    struct leg final : io::message {
        write_batch* batch = nullptr;
        unsigned target = 0;
        unsigned home = 0;
        bool answered = false;
        void run() override;
    };
    struct dispatch;  // the awaitable that sends the legs

    bool dispatch_all(std::coroutine_handle<> waiter);  // false: nothing left to wait for
    void run_on(unsigned core);  // this core's writes, in request order
    io::task<> await_durable(unsigned owner);

    std::array<write, writes_max> _writes;
    std::size_t _count = 0;
    bool _ran = false;
    std::array<leg, writes_max> _legs;  // at most one per write
    unsigned _pending = 0;
    std::coroutine_handle<> _waiter;
};

}  // namespace ringkv::api
