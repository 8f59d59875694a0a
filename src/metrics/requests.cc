#include <ringkv/metrics/requests.hh>

#include <ringkv/base/assert.hh>

namespace ringkv::metrics {

std::string_view name_of(route which) {
    switch (which) {
        case route::other: return "other";
        case route::create_namespace: return "create_namespace";
        case route::list_namespaces: return "list_namespaces";
        case route::get_namespace: return "get_namespace";
        case route::delete_namespace: return "delete_namespace";
        case route::put_key: return "put_key";
        case route::get_key: return "get_key";
        case route::delete_key: return "delete_key";
        case route::list_keys: return "list_keys";
        case route::healthz: return "healthz";
        case route::metrics: return "metrics";
        case route::admin: return "admin";
    }
    return "other";
}

std::string_view name_of(method verb) {
    switch (verb) {
        case method::get: return "GET";
        case method::head: return "HEAD";
        case method::post: return "POST";
        case method::put: return "PUT";
        case method::delete_: return "DELETE";
        case method::connect: return "CONNECT";
        case method::other: return "OTHER";
    }
    return "OTHER";
}

namespace {

// The codes counted one by one, in slot order from slot 1.
constexpr int counted_statuses[] = {
    200, 201, 202, 203, 204, 205, 206,                                              //
    300, 301, 302, 303, 304, 305, 307, 308,                                         //
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,  //
    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,                //
    500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,                          //
};
static_assert(std::size(counted_statuses) < status_slots::count);

constexpr int status_min = 100;
constexpr int status_max = 599;

struct slot_table {
    std::array<std::uint8_t, status_max - status_min + 1> slot_of_status{};
    constexpr slot_table() {
        for (std::size_t i = 0; i < std::size(counted_statuses); ++i) {
            slot_of_status[std::size_t(counted_statuses[i] - status_min)] = std::uint8_t(i + 1);
        }
    }
};
constexpr slot_table slots;

// Fine-histogram geometry (histogram.hh): 256 exact values, then octaves of
// 128 buckets; octave o holds [2^(o+8), 2^(o+9)).
constexpr std::size_t exact_values = std::size_t(1) << histogram::sub_bucket_bits;
constexpr std::size_t fine_per_octave = exact_values / 2;
constexpr std::size_t fine_per_bucket = fine_per_octave / duration_buckets::per_octave;
constexpr std::size_t first_octave = duration_buckets::first_octave_shift - histogram::sub_bucket_bits;
constexpr std::size_t end_octave = duration_buckets::last_octave_shift - histogram::sub_bucket_bits;
static_assert(fine_per_octave % duration_buckets::per_octave == 0);

}  // namespace

std::size_t status_slots::of(int status) {
    if (status < status_min || status > status_max) return other_slot;
    return slots.slot_of_status[std::size_t(status - status_min)];
}

int status_slots::status_of(std::size_t slot) {
    if (slot == other_slot || slot > std::size(counted_statuses)) return 0;
    return counted_statuses[slot - 1];
}

std::size_t duration_buckets::of_index(std::size_t fine_index) {
    const std::size_t first_fine = exact_values + first_octave * fine_per_octave;
    if (fine_index < first_fine) return 0;
    const std::size_t octave = (fine_index - exact_values) / fine_per_octave;
    if (octave >= end_octave) return finite;  // +Inf
    const std::size_t within = (fine_index - exact_values) % fine_per_octave;
    return 1 + (octave - first_octave) * per_octave + within / fine_per_bucket;
}

std::uint64_t duration_buckets::upper_ns(std::size_t bucket) {
    RINGKV_ASSERT(bucket < finite);
    if (bucket == 0) return (std::uint64_t(1) << first_octave_shift) - 1;
    const std::size_t octave = (bucket - 1) / per_octave + first_octave;
    const std::size_t part = (bucket - 1) % per_octave;
    return histogram::high_of(exact_values + octave * fine_per_octave + (part + 1) * fine_per_bucket - 1);
}

void request_metrics::record(const request_sample& sample) {
    const std::size_t which = index(sample.which);
    RINGKV_DEBUG_ASSERT(which < route_count && std::size_t(sample.verb) < method_count);
    ++_counts[which][std::size_t(sample.verb)][status_slots::of(sample.status)];
    const std::size_t fine = histogram::index_of(sample.duration_ns);
    route_latency& latency = _latency[which];
    ++latency.buckets[duration_buckets::of_index(fine)];
    ++latency.count;
    latency.sum_ns += sample.duration_ns;
    _window[which].record_at(fine, sample.duration_ns);
}

void request_metrics::reset_window(std::uint64_t now_ns) {
    _window_base = _counts;
    for (histogram& h : _window) h.reset();
    _window_started_ns = now_ns;
}

}  // namespace ringkv::metrics
