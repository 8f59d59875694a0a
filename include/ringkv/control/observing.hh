#pragma once
// The observing routes and the counters every core reports:
//   GET /metrics                Prometheus text 0.0.4 (open, like /healthz)
//   GET /_ringkv/stats          the stats window as JSON
//   DELETE /_ringkv/stats       starts a new window on every core (204)
//   GET /_ringkv/requests       the journal, newest first (?limit=N)
// Each gathers from every core by message (on_every_core): a core adds its
// own part on its own thread, so nothing on the request path is shared.

#include <ringkv/control/admin.hh>
#include <ringkv/control/observer.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/net/server.hh>
#include <ringkv/store/namespaces.hh>
#include <ringkv/store/shard.hh>

namespace ringkv::control {

// Start-up only. `all` must outlive the table. Without request metrics
// (--no-metrics) /metrics and /_ringkv/stats are not added (404).
void add_observing_routes(admin_table& table, const observers& all, const observe_options& options);

// What one core's built-in collectors read (all of it that core's own).
struct core_sources {
    const net::server& server;
    const store::shard& keys;
    const store::namespace_registry& namespaces;
    const io::loop& loop;
};
// Registers this core's collectors: connections (open, accepted, refused,
// timed out), bytes in and out, keys, value and memory bytes, expirations,
// cross-core messages, and on core 0 the namespaces (every core holds the
// same replica). Start-up only, on the core itself; what `sources` refers to
// must outlive the metrics.
void add_core_collectors(metrics::core_metrics& metrics, const core_sources& sources);

}  // namespace ringkv::control
