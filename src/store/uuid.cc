#include <ringkv/store/uuid.hh>

#include <ringkv/base/hex.hh>

#include <array>

namespace ringkv::store {
namespace {

bool is_dash_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Every request to a namespace's keys parses its id, so parsing is a table
// look-up per digit with one check at the end instead of a branch each:
// 0-15 for a hex digit of either case, 0xff for any other byte.
constexpr std::array<std::uint8_t, 256> hex_values = [] {
    std::array<std::uint8_t, 256> values{};
    for (int c = 0; c < 256; ++c) {
        const int v = base::hex_digit_value(char(c));
        values[std::size_t(c)] = v < 0 ? 0xff : std::uint8_t(v);
    }
    return values;
}();

// Shifts the digits text[from, to) into word; ORs each digit's value into
// `seen`, which passes 15 when any of them was not a hex digit.
void shift_in(std::string_view text, std::size_t from, std::size_t to, std::uint64_t& word, unsigned& seen) {
    for (std::size_t i = from; i < to; ++i) {
        const unsigned v = hex_values[static_cast<unsigned char>(text[i])];
        seen |= v;
        word = (word << 4) | (v & 0xf);
    }
}

}  // namespace

std::optional<uuid> uuid::parse(std::string_view text) {
    // 8-4-4-4-12: the first 16 digits are the high word, the rest the low.
    if (text.size() != text_bytes || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') {
        return std::nullopt;
    }
    uuid result;
    unsigned seen = 0;
    shift_in(text, 0, 8, result.high, seen);
    shift_in(text, 9, 13, result.high, seen);
    shift_in(text, 14, 18, result.high, seen);
    shift_in(text, 19, 23, result.low, seen);
    shift_in(text, 24, 36, result.low, seen);
    if (seen > 0xf) return std::nullopt;
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
