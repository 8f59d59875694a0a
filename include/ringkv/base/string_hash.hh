#pragma once
// A transparent hash for unordered containers keyed by client strings
// (tokens, organizations, namespace names), so they are searched with a
// std::string_view and no std::string is built.
//
// Keyed with the process secret (SipHash-1-3, the keyed hash designed
// against hash flooding): std::hash is unseeded, so a client could pick
// strings that all land in one bucket and turn every lookup into a scan.

#include <ringkv/base/secret.hh>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringkv::base {

namespace detail {

inline std::uint64_t rotate_left(std::uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

struct sip_state {
    std::uint64_t v0, v1, v2, v3;

    void round() {
        v0 += v1; v1 = rotate_left(v1, 13); v1 ^= v0; v0 = rotate_left(v0, 32);
        v2 += v3; v3 = rotate_left(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotate_left(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotate_left(v1, 17); v1 ^= v2; v2 = rotate_left(v2, 32);
    }
    void absorb(std::uint64_t word) {  // one compression round (the "1" of 1-3)
        v3 ^= word;
        round();
        v0 ^= word;
    }
};

}  // namespace detail

// SipHash-1-3 of `text` under the 128-bit key (k0, k1).
inline std::uint64_t siphash13(std::string_view text, std::uint64_t k0, std::uint64_t k1) {
    detail::sip_state s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
                        k1 ^ 0x7465646279746573ull};
    const char* at = text.data();
    std::size_t left = text.size();
    for (; left >= 8; at += 8, left -= 8) {
        std::uint64_t word;
        std::memcpy(&word, at, 8);  // little-endian hosts (x86-64, arm64)
        s.absorb(word);
    }
    std::uint64_t last = std::uint64_t(text.size() & 0xff) << 56;
    for (std::size_t i = 0; i < left; ++i) last |= std::uint64_t(static_cast<unsigned char>(at[i])) << (8 * i);
    s.absorb(last);
    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const {
        return std::size_t(siphash13(s, process_secret, process_secret * 0x9e3779b97f4a7c15ull + 1));
    }
};

}  // namespace ringkv::base
