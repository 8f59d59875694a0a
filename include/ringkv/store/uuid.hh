#pragma once
// 128-bit identifiers in the canonical 8-4-4-4-12 text form, lowercase.

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringkv::store {

struct uuid {
    std::uint64_t high = 0;
    std::uint64_t low = 0;

    static constexpr std::size_t text_bytes = 36;

    // Hex digits of either case; nothing but the canonical form.
    static std::optional<uuid> parse(std::string_view text);
    // A version 4 (random) UUID from two random 64-bit words.
    static uuid v4(std::uint64_t random_high, std::uint64_t random_low);
    // Writes exactly text_bytes characters.
    void format(char* out) const;

    bool operator==(const uuid&) const = default;
};

struct uuid_hash {
    std::size_t operator()(const uuid& u) const { return std::size_t(u.low ^ (u.high * 0x9e3779b97f4a7c15ull)); }
};

}  // namespace ringkv::store
