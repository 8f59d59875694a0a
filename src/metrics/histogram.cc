#include <ringkv/metrics/histogram.hh>

#include <algorithm>
#include <bit>
#include <cmath>

namespace ringkv::metrics {

namespace {
constexpr std::uint64_t exact_limit = std::uint64_t(1) << histogram::sub_bucket_bits;  // 256
constexpr std::uint64_t half = exact_limit / 2;                                      // 128 per power of two
}  // namespace

std::size_t histogram::index_of(std::uint64_t value) {
    value = std::min(value, max_value_ns);
    if (value < exact_limit) return std::size_t(value);
    const unsigned msb = 63 - unsigned(std::countl_zero(value));  // >= 8
    const unsigned shift = msb - (sub_bucket_bits - 1);           // >= 1
    const std::uint64_t sub = value >> shift;                     // [128, 255]
    return std::size_t(exact_limit + (shift - 1) * half + (sub - half));
}

std::uint64_t histogram::low_of(std::size_t index) {
    if (index < exact_limit) return index;
    const std::size_t shift = (index - exact_limit) / half + 1;
    const std::uint64_t sub = (index - exact_limit) % half + half;
    return sub << shift;
}

std::uint64_t histogram::high_of(std::size_t index) {
    if (index < exact_limit) return index;
    const std::size_t shift = (index - exact_limit) / half + 1;
    return low_of(index) + (std::uint64_t(1) << shift) - 1;
}

void histogram::record_at(std::size_t index, std::uint64_t value_ns) {
    add(_counts[index], 1);
    add(_total, 1);
    if (value_ns > _max.load(std::memory_order_relaxed)) _max.store(value_ns, std::memory_order_relaxed);
    if (value_ns < _min.load(std::memory_order_relaxed)) _min.store(value_ns, std::memory_order_relaxed);
}

void histogram::reset() {
    for (auto& counter : _counts) counter.store(0, std::memory_order_relaxed);
    _total.store(0, std::memory_order_relaxed);
    _max.store(0, std::memory_order_relaxed);
    _min.store(UINT64_MAX, std::memory_order_relaxed);
}

void histogram::merge(const histogram& other) {
    for (std::size_t i = 0; i < bucket_count; ++i) {
        const std::uint64_t n = other._counts[i].load(std::memory_order_relaxed);
        if (n != 0) add(_counts[i], n);
    }
    add(_total, other.count());
    _max.store(std::max(max(), other.max()), std::memory_order_relaxed);
    _min.store(std::min(min(), other.min()), std::memory_order_relaxed);
}

std::uint64_t histogram::percentile(double p) const {
    const std::uint64_t total = count();
    if (total == 0) return 0;
    if (p >= 100.0) return max();
    const auto rank = std::max<std::uint64_t>(1, std::uint64_t(std::ceil(p / 100.0 * double(total))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += _counts[i].load(std::memory_order_relaxed);
        if (seen >= rank) return std::min(max(), (low_of(i) + high_of(i)) / 2);
    }
    return max();
}

std::vector<histogram::bucket> histogram::buckets() const {
    std::vector<bucket> out;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        const std::uint64_t n = _counts[i].load(std::memory_order_relaxed);
        if (n != 0) out.push_back({low_of(i), high_of(i), n});
    }
    return out;
}

}  // namespace ringkv::metrics
