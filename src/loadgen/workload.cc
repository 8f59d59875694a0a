#include <ringkv/loadgen/workload.hh>

#include <charconv>
#include <cmath>

namespace ringkv::loadgen {
namespace {

bool parse_u32(std::string_view text, std::uint32_t& out) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc{} && end == text.data() + text.size();
}

// Scatters ranks over [0, n): a fixed odd multiplier modulo n is not a
// bijection for every n, so use a 64-bit mix and reduce; collisions only
// make two ranks share a key, which keeps the distribution's shape.
std::uint64_t scatter(std::uint64_t rank, std::uint64_t n) {
    std::uint64_t x = rank + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x % n;
}

}  // namespace

std::optional<mix> mix::parse(std::string_view text) {
    mix m;
    m.weights = {0, 0, 0, 0};
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string_view part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const std::size_t equals = part.find('=');
        if (equals == std::string_view::npos) return std::nullopt;
        const std::string_view name = part.substr(0, equals);
        std::uint32_t weight = 0;
        if (!parse_u32(part.substr(equals + 1), weight)) return std::nullopt;
        bool known = false;
        for (std::size_t i = 0; i < operation_names.size(); ++i) {
            if (name == operation_names[i] || (i == 2 && name == "del")) {
                m.weights[i] = weight;
                known = true;
            }
        }
        if (!known) return std::nullopt;
    }
    if (m.total() == 0) return std::nullopt;
    return m;
}

operation mix::pick(std::uint64_t random) const {
    std::uint64_t r = random % total();
    for (std::size_t i = 0; i < weights.size(); ++i) {
        if (r < weights[i]) return operation(i);
        r -= weights[i];
    }
    return operation::get;
}

namespace {
// log1p(x)/x and expm1(x)/x, accurate near 0 (where skew is close to 1).
double log1p_over_x(double x) { return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x)); }
double expm1_over_x(double x) { return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x)); }
}  // namespace

double zipfian::h(double x) const { return std::exp(-_skew * std::log(x)); }

double zipfian::h_integral(double x) const {
    const double log_x = std::log(x);
    return expm1_over_x((1 - _skew) * log_x) * log_x;
}

double zipfian::h_integral_inverse(double x) const {
    double t = x * (1 - _skew);
    if (t < -1) t = -1;  // rounding at the far end
    return std::exp(log1p_over_x(t) * x);
}

zipfian::zipfian(std::uint64_t n, double skew) : _n(n), _skew(skew) {
    _h_integral_x1 = h_integral(1.5) - 1;
    _h_integral_n = h_integral(double(n) + 0.5);
    _squeeze = 2 - h_integral_inverse(h_integral(2.5) - h(2));
}

std::uint64_t zipfian::next(std::mt19937_64& random) const {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (;;) {
        const double u = _h_integral_n + uniform(random) * (_h_integral_x1 - _h_integral_n);
        const double x = h_integral_inverse(u);
        double k = std::floor(x + 0.5);
        if (k < 1) k = 1;
        if (k > double(_n)) k = double(_n);
        if (k - x <= _squeeze || u >= h_integral(k + 0.5) - h(k)) return std::uint64_t(k) - 1;
    }
}

std::uint64_t key_chooser::next(std::mt19937_64& random) const {
    if (!skewed) return std::uniform_int_distribution<std::uint64_t>(0, keys - 1)(random);
    return scatter(skewed->next(random), keys);
}

std::optional<size_range> size_range::parse(std::string_view text) {
    size_range r;
    const std::size_t dash = text.find('-');
    if (!parse_u32(text.substr(0, dash), r.low)) return std::nullopt;
    r.high = r.low;
    if (dash != std::string_view::npos && !parse_u32(text.substr(dash + 1), r.high)) return std::nullopt;
    if (r.high < r.low || r.low == 0) return std::nullopt;
    return r;
}

std::uint32_t size_range::next(std::mt19937_64& random) const {
    if (low == high) return low;
    return std::uniform_int_distribution<std::uint32_t>(low, high)(random);
}

schedule schedule::for_connection(std::uint64_t start_ns, double rate, unsigned connections, unsigned c) {
    schedule s;
    if (rate <= 0) {
        s.start_ns = start_ns;
        return s;
    }
    s.interval_ns = std::uint64_t(double(connections) * 1e9 / rate);
    // Connections take turns: connection c starts c/connections of an interval in.
    s.start_ns = start_ns + s.interval_ns * c / connections;
    return s;
}

}  // namespace ringkv::loadgen
