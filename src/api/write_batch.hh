#pragma once
// Pipelined writes of one connection taken together (net/http/handler.hh,
// "deferred answers"): consecutive writes for ONE owner core run with one
// message to it (none when it is the coordinator itself), and their answers
// are written later, in request order.
//
// Which requests join, precisely (service::may_defer and service::defer):
// a PUT or DELETE of one key (route one_key), with no steering rule list in
// force on this core (fault injection and rate limits stay per request), a
// response that keeps the connection open, no "Expect: 100-continue", a
// key (namespace number and key bytes) that no earlier request of the batch
// names, and a key owned by the same core as the batch's other writes. A
// PUT the checks refuse (answered with its error, no effect) joins whatever
// its key's owner. Anything else ends the batch before it runs or is
// answered: a GET or HEAD (it must see the writes before it: reads go to
// the shard in place, not through the owner's queue), a listing, a
// namespace or control route, a write to a key already in the batch, a
// write for another owner core, a 17th write.
//
// Why this is safe (RFC 9112 section 9.3.2: only safe methods may be
// processed in parallel): the writes of a batch are applied by one core,
// one after another in request order, each published by a release store
// (store/concurrent_read.hh, I2), so no client on any core can see a write
// without every earlier one of the batch. The connection settles a batch
// (its writes applied, and durable) before it reads on or starts the next
// (net/connection.cc, settle), so writes of different batches, and thus to
// different owners, become visible in request order too. Every answer
// waits for its record to be durable as before (--log always): one wait
// for the batch's last ticket, each ticket after a failure.

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
    // What one batch may take, itself (checked in service.cc)...
    static constexpr std::size_t bytes_max = 8 * 1024;
    // ...and the most a value buffer may keep once the batch is cleared:
    // past it the buffer is freed. Bodies up to this size (the benchmark's
    // 1 KiB PUTs) are read into a kept buffer with no allocation.
    static constexpr std::size_t kept_value_bytes_max = 2 * 1024;

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
    // Empties the batch for reuse; value buffers past kept_value_bytes_max
    // are freed.
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
    // The message to the batch's owner core: it runs the writes there and
    // comes home.
    struct leg final : io::message {
        write_batch* batch = nullptr;
        unsigned target = 0;
        unsigned home = 0;
        bool answered = false;
        void run() override;
    };
    struct dispatch;  // the awaitable that sends the leg

    bool dispatch_all(std::coroutine_handle<> waiter);  // false: nothing left to wait for
    void run_on(unsigned core);  // this core's writes, in request order
    io::task<> await_durable(unsigned owner);

    std::array<write, writes_max> _writes;
    std::size_t _count = 0;
    std::optional<unsigned> _owner;  // of every write but the refused ones
    bool _ran = false;
    leg _leg;  // to the owner, when it is another core
    std::coroutine_handle<> _waiter;
};

}  // namespace ringkv::api
