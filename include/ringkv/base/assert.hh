#pragma once
// Two tiers of assertions (STYLE.md habit 5):
//  - RINGKV_ASSERT is always on: its breach means memory or state corruption,
//    and carrying on would serve wrong data.
//  - RINGKV_DEBUG_ASSERT guards hot-path invariants and compiles away in
//    release builds.

#include <cstdio>
#include <cstdlib>

namespace ringkv::base {

[[noreturn]] inline void assertion_failed(const char* expression, const char* file, int line) {
    std::fprintf(stderr, "ringkv: assertion failed: %s (%s:%d)\n", expression, file, line);
    std::abort();
}

}  // namespace ringkv::base

#define RINGKV_ASSERT(condition)                                                  \
    do {                                                                          \
        if (!(condition)) [[unlikely]]                                            \
            ::ringkv::base::assertion_failed(#condition, __FILE__, __LINE__);     \
    } while (0)

#ifdef NDEBUG
#define RINGKV_DEBUG_ASSERT(condition) ((void)0)
#else
#define RINGKV_DEBUG_ASSERT(condition) RINGKV_ASSERT(condition)
#endif
