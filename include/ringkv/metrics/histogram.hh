#pragma once
// A log-linear latency histogram of fixed size (HdrHistogram's idea):
// values below 256 ns are counted exactly; above, each power of two is cut
// into 128 equal buckets, so a bucket is at most 1/128 of its values wide
// and the midpoint reported is within 0.4% of any value in it (<= 1%).
// Values past max_value_ns (about 73 minutes) count as max_value_ns.
//
// One writer per histogram; counters are atomics written with relaxed
// load+store (plain moves on x86), so another thread may read a running
// histogram (ringkv-bench's progress line) without a data race. The server
// keeps one per route per core (metrics/requests.hh) and reads it only on
// its own core. Fixed size: 36 KiB, never grows.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringkv::metrics {

class histogram {
public:
    static constexpr unsigned sub_bucket_bits = 8;  // 256 exact values, then 128 per power of two
    static constexpr std::uint64_t max_value_ns = (std::uint64_t(1) << 42) - 1;
    static constexpr std::size_t bucket_count = 256 + 34 * 128;

    void record(std::uint64_t value_ns) { record_at(index_of(value_ns), value_ns); }
    // record() with the bucket index already known (index_of(value_ns)).
    void record_at(std::size_t index, std::uint64_t value_ns);
    // Back to empty (the writer only).
    void reset();
    // Adds another histogram's counts (merging threads).
    void merge(const histogram& other);

    std::uint64_t count() const { return _total.load(std::memory_order_relaxed); }
    std::uint64_t max() const { return _max.load(std::memory_order_relaxed); }
    std::uint64_t min() const { return _min.load(std::memory_order_relaxed); }
    // The value at `percentile` (0-100]: a bucket midpoint, or the exact max at 100.
    std::uint64_t percentile(double percentile) const;

    struct bucket {
        std::uint64_t low_ns;   // inclusive
        std::uint64_t high_ns;  // inclusive
        std::uint64_t count;
    };
    // The non-empty buckets, in order.
    std::vector<bucket> buckets() const;

    static std::size_t index_of(std::uint64_t value_ns);
    static std::uint64_t low_of(std::size_t index);
    static std::uint64_t high_of(std::size_t index);

private:
    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
        counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::array<std::atomic<std::uint64_t>, bucket_count> _counts{};
    std::atomic<std::uint64_t> _total{0};
    std::atomic<std::uint64_t> _max{0};
    std::atomic<std::uint64_t> _min{UINT64_MAX};
};

}  // namespace ringkv::metrics
