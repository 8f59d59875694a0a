#pragma once
// The KV API as the HTTP layer sees it: routes a request, checks it in the
// order of API.md ("Order of checks"), and answers it, sending key work to
// the core that owns the key. One service per core.

#include <ringkv/base/string_hash.hh>
#include <ringkv/control/admin.hh>
#include <ringkv/control/steering.hh>
#include <ringkv/io/task.hh>
#include <ringkv/control/observer.hh>
#include <ringkv/net/http/handler.hh>
#include <ringkv/store/change_log.hh>
#include <ringkv/store/namespaces.hh>
#include <ringkv/store/shard.hh>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace ringkv::api {

using token_set = std::unordered_set<std::string, base::string_hash, std::equal_to<>>;

struct api_options {
    // Accepted bearer tokens; empty optional: any non-empty token.
    std::optional<token_set> tokens;
    std::uint32_t provision_delay_ms = 0;
    std::uint32_t delete_delay_ms = 0;
    bool default_ttl_support = true;
    std::uint64_t cursor_secret = 0;  // drawn at start-up
    // Namespaces (live and deleting) one organization may hold; one more is
    // 422. Per organization, so one tenant's flood cannot starve another.
    std::size_t namespaces_per_organization = 1000;
    // The namespace registry's share of the memory budget, all replicas
    // together (each core holds a full copy): creating past it is 507.
    std::size_t namespace_bytes_max = SIZE_MAX;
};

// Every core's shard by core number, for the hop-free reads of
// store/concurrent_read.hh. Filled at start-up before any core serves, then
// read-only.
using shard_directory = std::vector<const store::shard*>;

// What a core owns: its keys and its replica of the namespace registry.
// Written only from that core's thread (cross-core writes go by message;
// other cores read `keys` through the lock-free protocol alone).
struct core_state {
    // item_bytes_max: this core's share of the memory budget for its keys.
    // readers/self: as for store::shard (nullptr: no concurrent reader).
    explicit core_state(std::uint64_t now_ms, std::size_t item_bytes_max = store::shard::unbounded,
                        const base::quiescent_states* readers = nullptr, unsigned self = 0)
        : keys(now_ms, item_bytes_max, readers, self) {}
    store::shard keys;
    const shard_directory* shards = nullptr;  // every core's, this one included
    store::namespace_registry namespaces;
    std::uint32_t next_namespace_number = 1;  // used on core 0 only
    // Where this core records its writes (--data-dir), or nullptr.
    store::change_log* changes = nullptr;

    static core_state& local();
    static void set_local(core_state* state);
};

// DELETE /_ringkv/state (src/api/reset.cc): every namespace of the
// organization (all of them when empty), with its keys, gone on every core
// before it returns. Runs on any core.
struct reset_outcome {
    std::size_t namespaces = 0;
    bool durable = true;  // false: --data-dir could not record it (disk full)
};
io::task<reset_outcome> reset_state(std::optional<std::string> organization);

// POST /_ringkv/clock, once the clock moved on every core: its lead
// recorded in this core's log (--data-dir), and under --log always on disk
// before it returns. False when the log cannot be written (the disk is
// full): the clock moved, but a restart would not find it.
io::task<bool> record_clock();

struct plan;         // src/api/plan.hh
class write_batch;   // src/api/write_batch.hh

class service final : public net::http::handler {
public:
    // options and admin must outlive the service (shared read-only by every
    // core); steering and observer are this core's (control/): steering
    // is asked once per request, the observer told of every request the
    // server observes.
    service(const api_options& options, const control::admin_table& admin, control::steering& steering,
            control::observer& observer);
    ~service() override;
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    net::http::head_verdict on_head(const net::http::request_head& head, net::http::response_writer& writer,
                                    net::http::request_scratch& scratch) override;
    io::task<> on_request(net::http::request& request, net::http::response_writer& writer,
                          net::http::request_scratch& scratch) override;
    void on_answered(const net::http::request_head* head, const net::http::request_scratch& scratch,
                     net::http::exchange& done) override;
    void on_complete(const net::http::exchange& done) override;
    void on_settled(const net::http::exchange& done) override;

    // Pipelined PUTs and DELETEs of distinct keys, taken as one batch per
    // connection (src/api/write_batch.hh says which requests join).
    bool may_defer(const net::http::request_head& head) const override;
    bool defer(net::http::request& request, net::http::request_scratch& scratch, bool more_buffered) override;
    io::task<> run_deferred(net::http::request_scratch& scratch) override;
    void write_deferred(std::size_t index, net::http::response_writer& writer,
                        net::http::request_scratch& scratch) override;

private:
    net::http::head_verdict admin_head(const net::http::request_head& head, net::http::response_writer& writer,
                                       plan& p);
    // The checks after authentication (query, namespace, body), and the
    // body verdict.
    net::http::head_verdict checked_head(const net::http::request_head& head, net::http::response_writer& writer,
                                         plan& p);
    // A request a steering rule matched (p.steer): its fault before the
    // operation, or the usual checks with the rule's injection.
    net::http::head_verdict steered_head(const net::http::request_head& head, net::http::response_writer& writer,
                                         plan& p);
    io::task<> route_request(net::http::request& request, net::http::response_writer& writer, plan& p);
    io::task<> steered_request(net::http::request& request, net::http::response_writer& writer, plan& p);
    // Takes one request from the token's bucket on its core; false when it
    // answered 429. Adds the x-ratelimit-* headers either way.
    io::task<bool> admit(plan& p, net::http::response_writer& writer);
    // The fault's answer in place of the operation's (a status fault) or
    // none at all (the connection resets, closes or hangs instead).
    // Whether the decision's fault still applies: a status fault needs its
    // rule, and the list may have been replaced since the request's head
    // (its rules and their answers gone); then the operation answers itself.
    bool fault_in_force(const plan& p) const;
    // Only when fault_in_force(p), with no suspension between the two.
    void write_fault(const plan& p, net::http::response_writer& writer);
    net::http::injection injection_of(const plan& p) const;

    const api_options& _options;
    const control::admin_table& _admin;
    control::steering& _steering;
    control::observer& _observer;
    // Batches given back by connections, kept for the next: a core with up
    // to spare_batches_max connections batching at once (bench/kv.sh runs
    // 64) takes every batch, and the value buffers a PUT's body is read
    // into, from here and allocates none. Bound: spare_batches_max batches
    // of at most write_batch::bytes_max (checked in service.cc) and
    // write_batch::writes_max value buffers of at most
    // write_batch::kept_value_bytes_max each: 64 x (8 KiB + 16 x 2 KiB),
    // 2.5 MiB per core.
    static constexpr std::size_t spare_batches_max = 64;
    std::vector<std::unique_ptr<write_batch>> _spare_batches;
};

}  // namespace ringkv::api
