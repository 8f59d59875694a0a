#pragma once
// Where a key lives. One pure function decides it for every request
// (STYLE.md habit 3): XXH3 of the key, seeded with the process secret mixed
// with the namespace's number, and the owner core taken from the hash's
// high half. The table index uses the low bits and the treap priority the
// low 32, so the owner choice does not thin out any core's table.
//
// Why a secret: namespace numbers are small, sequential and visible, so a
// hash seeded with them alone lets a client pick, offline, keys that share
// one probe sequence of the key table, one owner core, or one treap path
// (a 300-deep chain from 300 keys). With a 64-bit seed the client cannot
// predict any of the three.

#include <ringkv/base/secret.hh>

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace ringkv::store {

// The seed of a namespace's key hashes under a given secret.
inline std::uint64_t key_seed(std::uint64_t secret, std::uint32_t namespace_number) {
    return secret ^ (std::uint64_t(namespace_number) * 0x9e3779b97f4a7c15ull);
}

// key_hash under an explicit secret (tests; the server uses the process's).
inline std::uint64_t key_hash_with_secret(std::uint64_t secret, std::uint32_t namespace_number, std::string_view key) {
    return XXH3_64bits_withSeed(key.data(), key.size(), key_seed(secret, namespace_number));
}

inline std::uint64_t key_hash(std::uint32_t namespace_number, std::string_view key) {
    return key_hash_with_secret(base::process_secret, namespace_number, key);
}

inline unsigned shard_of(std::uint64_t hash, unsigned cores) {
    return unsigned(((hash >> 32) * cores) >> 32);
}

}  // namespace ringkv::store
