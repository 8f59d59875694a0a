#pragma once
// Per-process secrets for every hash that input can steer (STYLE.md habit
// 10): key placement, table slots, treap priorities, and the maps keyed by
// client strings. A client that cannot predict a hash cannot aim many keys
// at one probe sequence, one core or one treap path.
//
// The secret is drawn from the kernel (getrandom) once, before main() runs,
// and never changes: hashes must agree on every core for the process's
// whole life. A new process draws a new one.

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace ringkv::base {

// 64 random bits from getrandom(). Without the kernel's generator (a kernel
// before 3.17) there is no safe secret, so the process stops at start-up
// with the reason; no request can reach this.
inline std::uint64_t random_secret() {
    std::uint64_t value = 0;
    for (;;) {
        const ssize_t got = getrandom(&value, sizeof(value), 0);
        if (got == ssize_t(sizeof(value))) return value;
        if (got < 0 && errno == EINTR) continue;
        std::fprintf(stderr, "ringkv: getrandom() failed: no secret for hash seeds\n");
        std::abort();
    }
}

// The process's hash secret, the same on every thread.
inline const std::uint64_t process_secret = random_secret();

}  // namespace ringkv::base
