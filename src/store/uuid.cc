#include <ringkv/store/uuid.hh>

#include <ringkv/base/hex.hh>

namespace ringkv::store {
namespace {

bool is_dash_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

std::optional<uuid> uuid::parse(std::string_view text) {
    if (text.size() != text_bytes) return std::nullopt;
    uuid result;
    int nibbles = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_dash_position(i)) {
            if (text[i] != '-') return std::nullopt;
            continue;
        }
        const int v = base::hex_digit_value(text[i]);
        if (v < 0) return std::nullopt;
        std::uint64_t& word = nibbles < 16 ? result.high : result.low;
        word = (word << 4) | std::uint64_t(v);
        ++nibbles;
    }
    return result;
}

uuid uuid::v4(std::uint64_t random_high, std::uint64_t random_low) {
    uuid u{random_high, random_low};
    u.high = (u.high & ~std::uint64_t(0xf000)) | 0x4000;                       // version 4
    u.low = (u.low & ~(std::uint64_t(0xc) << 60)) | (std::uint64_t(0x8) << 60);  // variant 10xx
    return u;
}

void uuid::format(char* out) const {
    static constexpr char digits[] = "0123456789abcdef";
    int nibble = 0;
    for (std::size_t i = 0; i < text_bytes; ++i) {
        if (is_dash_position(i)) {
            out[i] = '-';
            continue;
        }
        const std::uint64_t word = nibble < 16 ? high : low;
        const int shift = 60 - 4 * (nibble % 16);
        out[i] = digits[(word >> shift) & 0xf];
        ++nibble;
    }
}

}  // namespace ringkv::store
