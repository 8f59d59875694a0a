#pragma once
// The monotonic clock, read in one place. The store never calls it: its
// callers pass "now" in (store::instant), so tests drive time by hand.

#include <cstdint>
#include <ctime>

namespace ringkv::base {

inline std::uint64_t monotonic_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::uint64_t(now.tv_sec) * 1'000'000'000 + std::uint64_t(now.tv_nsec);
}

inline std::uint64_t monotonic_ms() { return monotonic_ns() / 1'000'000; }

}  // namespace ringkv::base
