#include <ringkv/control/observing.hh>

#include <ringkv/base/clock.hh>
#include <ringkv/metrics/snapshot.hh>
#include <ringkv/net/http/error_response.hh>

#include <algorithm>
#include <memory>
#include <vector>

namespace ringkv::control {

using net::http::method;

namespace {

constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view json_content_type = "application/json";

observer& local(const observers& all) { return all.at(io::loop::current().core()); }

void write_busy(net::http::response_writer& writer) {
    net::http::write_error(writer,
                           {503, net::http::error_code::too_many_requests,
                            "too many scrapes are running on this core; retry shortly"},
                           "Retry-After: 1\r\n");
}

// The scrape's own bound on this core, held while it gathers (it suspends).
class scrape_slot {
public:
    explicit scrape_slot(observer& here) : _here(here), _held(here.begin_scrape()) {}
    ~scrape_slot() {
        if (_held) _here.end_scrape();
    }
    scrape_slot(const scrape_slot&) = delete;
    scrape_slot& operator=(const scrape_slot&) = delete;
    bool held() const { return _held; }

private:
    observer& _here;
    bool _held;
};

// Gathers every core's metrics into one snapshot. The snapshot lives in the
// caller's frame while each core adds to it in turn.
io::task<> gather(const observers& all, metrics::snapshot& into) {
    co_await on_every_core([&all, &into] { into.add(local(all).metrics()); });
}

// A scrape: every core's metrics, as /metrics (prometheus) or
// /_ringkv/stats shows them; 503 when this core serves too many at once.
io::task<> serve_snapshot(const observers& all, metrics::snapshot::view view, net::http::response_writer& writer) {
    scrape_slot slot(local(all));
    if (!slot.held()) {
        write_busy(writer);
        co_return;
    }
    const auto snapshot = std::make_unique<metrics::snapshot>(view);
    co_await gather(all, *snapshot);
    if (view == metrics::snapshot::view::prometheus) {
        writer.write(200, prometheus_content_type, snapshot->prometheus());
    } else {
        writer.write(200, json_content_type, snapshot->stats_json(base::monotonic_ns()));
    }
}

io::task<> serve_metrics(const observers& all, net::http::response_writer& writer) {
    co_await serve_snapshot(all, metrics::snapshot::view::prometheus, writer);
}

io::task<> serve_stats(const observers& all, net::http::request& request, net::http::response_writer& writer) {
    if (request.head.method == method::delete_) {
        co_await on_every_core([&all] { local(all).metrics().requests.reset_window(base::monotonic_ns()); });
        writer.write_empty(204);
        co_return;
    }
    co_await serve_snapshot(all, metrics::snapshot::view::stats, writer);
}

io::task<> serve_journal(const observers& all, net::http::request& request, net::http::response_writer& writer) {
    const journal_query query = parse_journal_query(request.head.query);
    if (!query.valid) {
        net::http::write_error(writer, {422, net::http::error_code::bad_request,
                                        "limit must be an integer of at least 1, given once",
                                        net::http::error_source::parameter("limit")});
        co_return;
    }
    scrape_slot slot(local(all));
    if (!slot.held()) {
        write_busy(writer);
        co_return;
    }
    // Each core's newest `limit`, then the newest `limit` of them all.
    std::vector<journal_entry> entries;
    const std::size_t limit = query.limit;
    co_await on_every_core([&all, &entries, limit] { local(all).journal().latest(limit, entries); });
    std::sort(entries.begin(), entries.end(), [](const journal_entry& a, const journal_entry& b) {
        return a.wall_us != b.wall_us ? a.wall_us > b.wall_us : a.sequence > b.sequence;
    });
    if (entries.size() > limit) entries.resize(limit);
    const std::size_t capacity = local(all).journal().capacity();
    writer.write(200, json_content_type, render_journal(entries, capacity, all.cores()));
}

}  // namespace

void add_observing_routes(admin_table& table, const observers& all, const observe_options& options) {
    // Each handler is a plain lambda that calls a coroutine with its state
    // as parameters: nothing a coroutine uses lives in a lambda capture.
    if (options.metrics) {
        table.add("/metrics", {method::get},
                  [&all](net::http::request&, net::http::response_writer& writer) { return serve_metrics(all, writer); });
        table.add("/_ringkv/stats", {method::get, method::delete_},
                  [&all](net::http::request& request, net::http::response_writer& writer) {
                      return serve_stats(all, request, writer);
                  });
    }
    table.add("/_ringkv/requests", {method::get},
              [&all](net::http::request& request, net::http::response_writer& writer) {
                  return serve_journal(all, request, writer);
              });
}

void add_core_collectors(metrics::core_metrics& metrics, const core_sources& sources) {
    metrics.add_collector([sources](metrics::sample_sink& out) {
        const net::server::counters& seen = sources.server.stats();
        out.gauge("ringkv_connections_open", "Client connections open.", double(sources.server.open_connections()));
        out.counter("ringkv_connections_accepted_total", "Client connections accepted.", seen.accepted);
        out.counter("ringkv_connections_refused_total",
                    "Connections refused (503) over --connections-per-core or while stopping.",
                    seen.rejected_over_limit);
        out.counter("ringkv_connections_timed_out_total", "Requests cut by the header timeout (408).",
                    seen.timed_out);
        out.counter("ringkv_received_bytes_total", "Bytes read from client connections.", seen.bytes_received);
        out.counter("ringkv_sent_bytes_total", "Bytes sent on client connections.", seen.bytes_sent);
        out.gauge("ringkv_keys", "Keys held (the keys a core owns).", double(sources.keys.size()));
        out.gauge("ringkv_keys_with_ttl", "Keys held that have a TTL.", double(sources.keys.ttl_keys()));
        out.gauge("ringkv_value_bytes", "Bytes of the values held.", double(sources.keys.value_bytes()));
        out.gauge("ringkv_memory_bytes", "Memory the keys take, as --max-memory counts it.",
                  double(sources.keys.memory_bytes()));
        out.gauge("ringkv_memory_limit_bytes", "This core's share of --max-memory.",
                  double(sources.keys.memory_bytes_max()));
        const store::reclaimer::retired_stats retired = sources.keys.retired(sources.loop.real_now_ms());
        out.gauge("ringkv_retired_bytes",
                  "Memory unlinked but not yet freed: waiting for every core to pass a quiescent state "
                  "(counted against --max-memory).",
                  double(retired.bytes));
        out.gauge("ringkv_retired_oldest_age_seconds", "Age of the oldest memory waiting to be freed.",
                  double(retired.oldest_age_ms) / 1000.0);
        out.counter("ringkv_expired_keys_total", "Keys removed because their TTL passed.",
                    sources.keys.expired_total());
        out.counter("ringkv_cross_core_messages_total", "Messages sent to other cores (calls and replies).",
                    sources.loop.messages_sent());
        out.counter("ringkv_cross_core_wakes_total",
                    "Doorbells rung to wake another core (IORING_OP_MSG_RING): at most one per target per "
                    "loop iteration, however many messages it carries.",
                    sources.loop.wakes_sent());
        if (sources.loop.core() == 0) {
            out.gauge("ringkv_namespaces", "Namespaces held (live and being deleted).",
                      double(sources.namespaces.size()));
        }
    });
}

}  // namespace ringkv::control
