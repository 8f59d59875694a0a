#pragma once
// Where a key lives. One pure function decides it for every request
// (STYLE.md habit 3): XXH3 of the key seeded with the namespace's number,
// and the owner core taken from the hash's high half. The table index uses
// the low bits, so the owner choice does not thin out any core's table.

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace ringkv::store {

inline std::uint64_t key_hash(std::uint32_t namespace_number, std::string_view key) {
    return XXH3_64bits_withSeed(key.data(), key.size(), namespace_number);
}

inline unsigned shard_of(std::uint64_t hash, unsigned cores) {
    return unsigned(((hash >> 32) * cores) >> 32);
}

}  // namespace ringkv::store
