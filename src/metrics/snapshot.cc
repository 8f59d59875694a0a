#include <ringkv/metrics/snapshot.hh>

#include <ringkv/base/decimal.hh>
#include <ringkv/base/json_string.hh>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace ringkv::metrics {

namespace {


// Nanoseconds as decimal seconds, exactly ("0.000049151"; "2" for 2 s).
void append_seconds(std::string& out, std::uint64_t ns) {
    base::append_decimal(out, ns / 1'000'000'000);
    std::uint64_t fraction = ns % 1'000'000'000;
    if (fraction == 0) return;
    char digits[10] = "000000000";
    for (int i = 8; i >= 0; --i, fraction /= 10) digits[i] = char('0' + fraction % 10);
    int last = 8;
    while (digits[last] == '0') --last;
    out.push_back('.');
    out.append(digits, std::size_t(last + 1));
}

// Microseconds as seconds with six decimals, exactly ("1.250000").
void append_seconds_of_us(std::string& out, std::uint64_t us) {
    base::append_decimal(out, us / 1'000'000);
    char digits[8] = ".000000";
    std::uint64_t fraction = us % 1'000'000;
    for (int i = 6; i >= 1; --i, fraction /= 10) digits[i] = char('0' + fraction % 10);
    out.append(digits, 7);
}

// A counter's value: a count, or a seconds_counter's microseconds in seconds.
void append_counter(std::string& out, family_type type, std::uint64_t count) {
    if (type == family_type::seconds_counter) {
        append_seconds_of_us(out, count);
    } else {
        base::append_decimal(out, count);
    }
}

// Nanoseconds as microseconds with three decimals ("48.512").
void append_microseconds(std::string& out, std::uint64_t ns) { base::append_thousandths(out, ns); }

// A gauge value as the exposition format spells it (also valid JSON for
// finite values).
void append_real(std::string& out, double value) {
    if (std::isnan(value)) {
        out.append("NaN");
    } else if (std::isinf(value)) {
        out.append(value > 0 ? "+Inf" : "-Inf");
    } else {
        char text[32];
        const int n = std::snprintf(text, sizeof(text), "%.17g", value);
        out.append(text, std::size_t(n));
    }
}

void append_status_label(std::string& out, std::size_t slot) {
    if (slot == status_slots::other_slot) {
        out.append("other");
    } else {
        base::append_decimal(out, std::uint64_t(status_slots::status_of(slot)));
    }
}

void add_counts(request_metrics::counts_by_method& into, const request_metrics::counts_by_method& from) {
    for (std::size_t m = 0; m < method_count; ++m) {
        for (std::size_t s = 0; s < status_slots::count; ++s) into[m][s] += from[m][s];
    }
}

std::uint64_t total_of(const request_metrics::status_counts& counts) {
    std::uint64_t total = 0;
    for (const std::uint64_t n : counts) total += n;
    return total;
}

request_metrics::status_counts by_status(const request_metrics::counts_by_method& counts) {
    request_metrics::status_counts out{};
    for (const auto& per_method : counts) {
        for (std::size_t s = 0; s < status_slots::count; ++s) out[s] += per_method[s];
    }
    return out;
}

void append_latency_json(std::string& out, const latency_summary& l) {
    const std::pair<std::string_view, std::uint64_t> points[] = {
        {"p50", l.p50_ns},       {"p90", l.p90_ns},         {"p99", l.p99_ns},
        {"p99.9", l.p99_9_ns},   {"p99.99", l.p99_99_ns},   {"max", l.max_ns},
    };
    out.append("\"latency_us\":{");
    bool first = true;
    for (const auto& [name, ns] : points) {
        if (!first) out.push_back(',');
        first = false;
        base::append_json_string(out, name);
        out.push_back(':');
        append_microseconds(out, ns);
    }
    out.push_back('}');
}

void append_statuses_json(std::string& out, const request_metrics::status_counts& counts) {
    out.append("\"statuses\":{");
    bool first = true;
    for (std::size_t s = 0; s < status_slots::count; ++s) {
        if (counts[s] == 0) continue;
        if (!first) out.push_back(',');
        first = false;
        out.push_back('"');
        append_status_label(out, s);
        out.append("\":");
        base::append_decimal(out, counts[s]);
    }
    out.push_back('}');
}

// count, statuses and latency of one group of requests, inside an object.
void append_group_json(std::string& out, const request_metrics::status_counts& statuses,
                       const latency_summary& latency) {
    out.append("\"count\":");
    base::append_decimal(out, total_of(statuses));
    out.push_back(',');
    append_statuses_json(out, statuses);
    out.push_back(',');
    append_latency_json(out, latency);
}

}  // namespace

latency_summary latency_summary::of(const histogram& h) {
    latency_summary l;
    if (h.count() == 0) return l;
    l.p50_ns = h.percentile(50);
    l.p90_ns = h.percentile(90);
    l.p99_ns = h.percentile(99);
    l.p99_9_ns = h.percentile(99.9);
    l.p99_99_ns = h.percentile(99.99);
    l.max_ns = h.max();
    return l;
}

snapshot::snapshot(view what) : _view(what) {
    if (_view == view::stats) {
        _window = std::make_unique<std::array<histogram, route_count>>();
        _core_scratch = std::make_unique<histogram>();
    }
}

void snapshot::add(const core_metrics& m) {
    const request_metrics& r = m.requests;
    for (std::size_t i = 0; i < route_count; ++i) {
        const route which = route(i);
        add_counts(_lifetime[i], r.lifetime_counts(which));
        const route_latency& latency = r.lifetime_latency(which);
        for (std::size_t b = 0; b < duration_buckets::count; ++b) _latency[i].buckets[b] += latency.buckets[b];
        _latency[i].count += latency.count;
        _latency[i].sum_ns += latency.sum_ns;
    }
    m.collect(_samples);
    if (_view != view::stats) return;

    core_summary summary;
    summary.core = m.core();
    _core_scratch->reset();
    for (std::size_t i = 0; i < route_count; ++i) {
        const route which = route(i);
        for (std::size_t v = 0; v < method_count; ++v) {
            for (std::size_t s = 0; s < status_slots::count; ++s) {
                const std::uint64_t n = r.window_count(which, method(v), s);
                _window_counts[i][v][s] += n;
                summary.statuses[s] += n;
            }
        }
        (*_window)[i].merge(r.window_latency(which));
        _core_scratch->merge(r.window_latency(which));
    }
    summary.count = total_of(summary.statuses);
    summary.latency = latency_summary::of(*_core_scratch);
    _cores.push_back(summary);
    _window_started_ns = std::min(_window_started_ns, r.window_started_ns());
}

std::uint64_t snapshot::lifetime_count(route which, method verb, int status) const {
    return _lifetime[std::size_t(which)][std::size_t(verb)][status_slots::of(status)];
}

std::string snapshot::prometheus() const {
    std::string out;
    out.reserve(64 * 1024);
    out.append("# HELP ringkv_requests_total Requests answered, by route, method and status.\n"
               "# TYPE ringkv_requests_total counter\n");
    for (std::size_t i = 0; i < route_count; ++i) {
        for (std::size_t v = 0; v < method_count; ++v) {
            for (std::size_t s = 0; s < status_slots::count; ++s) {
                const std::uint64_t n = _lifetime[i][v][s];
                if (n == 0) continue;
                out.append("ringkv_requests_total{route=\"");
                out.append(name_of(route(i)));
                out.append("\",method=\"");
                out.append(name_of(method(v)));
                out.append("\",status=\"");
                append_status_label(out, s);
                out.append("\"} ");
                base::append_decimal(out, n);
                out.push_back('\n');
            }
        }
    }
    out.append("# HELP ringkv_request_duration_seconds Server time of a request: from its head parsed to its "
               "response handed to the kernel.\n"
               "# TYPE ringkv_request_duration_seconds histogram\n");
    for (std::size_t i = 0; i < route_count; ++i) {
        const route_latency& latency = _latency[i];
        if (latency.count == 0) continue;  // a route never asked for has no series
        const std::string_view name = name_of(route(i));
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < duration_buckets::count; ++b) {
            cumulative += latency.buckets[b];
            out.append("ringkv_request_duration_seconds_bucket{route=\"");
            out.append(name);
            out.append("\",le=\"");
            if (b < duration_buckets::finite) {
                append_seconds(out, duration_buckets::upper_ns(b));
            } else {
                out.append("+Inf");
            }
            out.append("\"} ");
            base::append_decimal(out, cumulative);
            out.push_back('\n');
        }
        out.append("ringkv_request_duration_seconds_sum{route=\"");
        out.append(name);
        out.append("\"} ");
        append_seconds(out, latency.sum_ns);
        out.append("\nringkv_request_duration_seconds_count{route=\"");
        out.append(name);
        out.append("\"} ");
        base::append_decimal(out, latency.count);
        out.push_back('\n');
    }

    // Collector families: each once, its samples together, by core.
    std::vector<const sample*> ordered;
    ordered.reserve(_samples.size());
    for (const sample& s : _samples) ordered.push_back(&s);
    std::stable_sort(ordered.begin(), ordered.end(), [](const sample* a, const sample* b) {
        return std::tie(a->name, a->core, a->labels) < std::tie(b->name, b->core, b->labels);
    });
    std::string_view family;
    const auto same_series = [](const sample& a, const sample& b) {
        return a.name == b.name && a.core == b.core && a.labels == b.labels;
    };
    for (std::size_t k = 0; k < ordered.size();) {
        const sample& s = *ordered[k];
        // The same series reported twice on a core is one series: add up.
        std::uint64_t count = 0;
        double value = 0;
        std::size_t next = k;
        for (; next < ordered.size() && same_series(*ordered[next], s); ++next) {
            count += ordered[next]->count;
            value += ordered[next]->value;
        }
        k = next;
        if (s.name != family) {
            family = s.name;
            out.append("# HELP ");
            out.append(s.name);
            out.push_back(' ');
            out.append(s.help);
            out.append("\n# TYPE ");
            out.append(s.name);
            out.append(s.type == family_type::gauge ? " gauge\n" : " counter\n");
        }
        out.append(s.name);
        out.append("{core=\"");
        base::append_decimal(out, s.core);
        out.push_back('"');
        if (!s.labels.empty()) {
            out.push_back(',');
            out.append(s.labels);
        }
        out.append("} ");
        if (s.type == family_type::gauge) {
            append_real(out, value);
        } else {
            append_counter(out, s.type, count);
        }
        out.push_back('\n');
    }
    return out;
}

std::string snapshot::stats_json(std::uint64_t now_ns) const {
    std::string out;
    out.reserve(8 * 1024);
    out.append("{\"data\":{\"window_seconds\":");
    const std::uint64_t age_ns = _window_started_ns <= now_ns ? now_ns - _window_started_ns : 0;
    append_seconds(out, _cores.empty() ? 0 : age_ns);

    request_metrics::status_counts all{};
    const auto merged_owner = std::make_unique<histogram>();  // 36 KiB: not on the stack
    histogram& merged = *merged_owner;
    for (std::size_t i = 0; i < route_count; ++i) {
        const auto statuses = by_status(_window_counts[i]);
        for (std::size_t s = 0; s < status_slots::count; ++s) all[s] += statuses[s];
        merged.merge((*_window)[i]);
    }
    out.append(",\"total\":{");
    append_group_json(out, all, latency_summary::of(merged));
    out.append("},\"routes\":{");
    for (std::size_t i = 0; i < route_count; ++i) {
        if (i != 0) out.push_back(',');
        base::append_json_string(out, name_of(route(i)));
        out.append(":{");
        append_group_json(out, by_status(_window_counts[i]), latency_summary::of((*_window)[i]));
        out.push_back('}');
    }
    out.append("},\"cores\":[");
    for (std::size_t c = 0; c < _cores.size(); ++c) {
        const core_summary& core = _cores[c];
        if (c != 0) out.push_back(',');
        out.append("{\"core\":");
        base::append_decimal(out, core.core);
        out.push_back(',');
        append_group_json(out, core.statuses, core.latency);
        out.append(",\"metrics\":{");
        bool first = true;
        for (const sample& s : _samples) {
            if (s.core != core.core) continue;
            if (!first) out.push_back(',');
            first = false;
            std::string key(s.name);
            if (!s.labels.empty()) key.append("{").append(s.labels).append("}");
            base::append_json_string(out, key);
            out.push_back(':');
            if (s.type != family_type::gauge) {
                append_counter(out, s.type, s.count);
            } else if (std::isfinite(s.value)) {
                append_real(out, s.value);
            } else {
                out.append("null");
            }
        }
        out.append("}}");
    }
    out.append("]}}");
    return out;
}

void sample_sink::counter(std::string_view name, std::string_view help, std::uint64_t count, std::string labels) {
    _out.push_back({name, help, family_type::counter, std::move(labels), _core, count, 0});
}

void sample_sink::seconds_counter(std::string_view name, std::string_view help, std::uint64_t microseconds,
                                  std::string labels) {
    _out.push_back({name, help, family_type::seconds_counter, std::move(labels), _core, microseconds, 0});
}

void sample_sink::gauge(std::string_view name, std::string_view help, double value, std::string labels) {
    _out.push_back({name, help, family_type::gauge, std::move(labels), _core, 0, value});
}

std::string label(std::string_view name, std::string_view value) {
    std::string out(name);
    out.append("=\"");
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out.append("\\n");
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
    return out;
}

void core_metrics::collect(std::vector<sample>& out) const {
    sample_sink sink(_core, out);
    for (const collector& c : _collectors) c(sink);
}

}  // namespace ringkv::metrics
