#pragma once
// Whole numbers as decimal text, appended without a temporary string: the
// one writer that responses, /metrics, the journal and ringkv-bench share.

#include <charconv>
#include <cstdint>
#include <string>

namespace ringkv::base {

inline void append_decimal(std::string& out, std::uint64_t n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), n).ptr;
    out.append(digits, std::size_t(end - digits));
}

// n / 1000 with exactly three decimals: 48512 → "48.512" (microseconds as
// milliseconds, nanoseconds as microseconds), with no floating point.
inline void append_thousandths(std::string& out, std::uint64_t n) {
    append_decimal(out, n / 1000);
    const std::uint64_t rest = n % 1000;
    const char fraction[4] = {'.', char('0' + rest / 100), char('0' + rest / 10 % 10), char('0' + rest % 10)};
    out.append(fraction, sizeof(fraction));
}

}  // namespace ringkv::base
