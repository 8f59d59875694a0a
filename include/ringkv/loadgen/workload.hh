#pragma once
// What requests a run sends: the operation mix, which keys (uniform or
// zipfian), value sizes, and the open-loop schedule. All pure and seeded,
// so tests can check distributions and schedules exactly.

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace ringkv::loadgen {

enum class operation : std::uint8_t { get, put, del, list };
inline constexpr std::array<std::string_view, 4> operation_names = {"get", "put", "delete", "list"};

// --mix get=90,put=10: weights per operation.
struct mix {
    std::array<std::uint32_t, 4> weights{100, 0, 0, 0};
    static std::optional<mix> parse(std::string_view text);  // nullopt: malformed
    operation pick(std::uint64_t random) const;
    std::uint32_t total() const { return weights[0] + weights[1] + weights[2] + weights[3]; }
};

// Zipfian ranks 0..n-1 with P(k) proportional to 1/(k+1)^skew, any skew > 0,
// sampled exactly by rejection-inversion (Hoermann and Derflinger, "Rejection-
// inversion to generate variates from monotone discrete distributions", 1996)
// in O(1) time and memory. key_chooser then scatters ranks over the key
// space so the hot keys do not all sit together (and on one core).
class zipfian {
public:
    zipfian(std::uint64_t n, double skew);
    std::uint64_t next(std::mt19937_64& random) const;  // a rank, 0 = hottest
    std::uint64_t n() const { return _n; }

private:
    double h(double x) const;
    double h_integral(double x) const;
    double h_integral_inverse(double x) const;

    std::uint64_t _n;
    double _skew;
    double _h_integral_x1, _h_integral_n, _squeeze;
};

struct key_chooser {
    std::uint64_t keys = 10000;
    std::optional<zipfian> skewed;  // empty: uniform
    std::uint64_t next(std::mt19937_64& random) const;
};

// Value sizes: fixed, or uniform in [low, high].
struct size_range {
    std::uint32_t low = 64, high = 64;
    static std::optional<size_range> parse(std::string_view text);  // "N" or "N-M"
    std::uint32_t next(std::mt19937_64& random) const;
};

// Open-loop schedule of one connection: request i is due at
// start + offset + i * interval, whatever happened to request i-1. Latency
// is measured from that instant, so a stalled server is charged for the
// whole time its requests waited (coordinated omission corrected).
struct schedule {
    std::uint64_t start_ns = 0;
    std::uint64_t interval_ns = 0;  // 0: closed loop (send when a slot frees)
    std::uint64_t due_ns(std::uint64_t i) const { return start_ns + i * interval_ns; }
    // For `connections` connections sharing `rate` requests/s: connection c's schedule.
    static schedule for_connection(std::uint64_t start_ns, double rate, unsigned connections, unsigned c);
};

}  // namespace ringkv::loadgen
