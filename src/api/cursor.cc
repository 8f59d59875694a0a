#include "cursor.hh"

#include <ringkv/base/string_hash.hh>

#include <cstring>

namespace ringkv::api {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t mac_bytes = cursor_codec::mac_bytes;
constexpr std::size_t raw_bytes_max = cursor_codec::key_bytes_max + mac_bytes;
// The second half of the SipHash key, derived from the 64-bit secret.
constexpr std::uint64_t second_key_multiplier = 0x9e3779b97f4a7c15ull;

int decode_digit(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

void put64(unsigned char* at, std::uint64_t v) { std::memcpy(at, &v, 8); }

}  // namespace

// MAC input: [namespace number 4][keyed digest of the prefix 8][key]. The
// prefix (any length) enters through its own keyed digest, so the input has
// a fixed layout and no two (prefix, key) pairs can be made to collide.
std::uint64_t cursor_codec::mac(std::uint32_t namespace_number, std::string_view prefix, std::string_view key) const {
    const std::uint64_t k0 = _secret, k1 = _secret * second_key_multiplier + 1;
    unsigned char input[4 + 8 + key_bytes_max];
    std::memcpy(input, &namespace_number, 4);
    put64(input + 4, base::siphash13(prefix, k1, k0));
    // memcpy wants real pointers even for zero bytes (an empty view's may be null).
    if (!key.empty()) std::memcpy(input + 12, key.data(), key.size());
    return base::siphash13({reinterpret_cast<const char*>(input), 12 + key.size()}, k0, k1);
}

void cursor_codec::encode(std::uint32_t namespace_number, std::string_view prefix, std::string_view last_key,
                          std::string& out) const {
    unsigned char raw[raw_bytes_max];
    const std::string_view key = last_key.substr(0, std::min(last_key.size(), key_bytes_max));
    if (!key.empty()) std::memcpy(raw, key.data(), key.size());
    put64(raw + key.size(), mac(namespace_number, prefix, key));
    const std::size_t total = key.size() + mac_bytes;
    for (std::size_t i = 0; i < total; i += 3) {  // base64url, no padding
        const std::uint32_t chunk = (std::uint32_t(raw[i]) << 16) | (i + 1 < total ? std::uint32_t(raw[i + 1]) << 8 : 0) |
                                    (i + 2 < total ? raw[i + 2] : 0);
        out.push_back(alphabet[(chunk >> 18) & 63]);
        out.push_back(alphabet[(chunk >> 12) & 63]);
        if (i + 1 < total) out.push_back(alphabet[(chunk >> 6) & 63]);
        if (i + 2 < total) out.push_back(alphabet[chunk & 63]);
    }
}

std::optional<std::string_view> cursor_codec::decode(std::string_view text, std::uint32_t namespace_number,
                                                     std::string_view prefix, std::span<char> storage) const {
    unsigned char raw[raw_bytes_max + 3];
    std::size_t bytes = 0;
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (const char c : text) {
        const int digit = decode_digit(c);
        if (digit < 0) return std::nullopt;
        bits = (bits << 6) | std::uint32_t(digit);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            if (bytes == sizeof(raw)) return std::nullopt;
            raw[bytes++] = static_cast<unsigned char>(bits >> bit_count);
        }
    }
    // Canonical text only: the bits below the last whole byte are zero and no
    // character stands alone, so one cursor has one spelling.
    if (bit_count >= 6 || (bits & ((1u << bit_count) - 1)) != 0) return std::nullopt;
    if (bytes < 1 + mac_bytes || bytes > raw_bytes_max) return std::nullopt;
    const std::size_t key_bytes = bytes - mac_bytes;
    const std::string_view key(reinterpret_cast<const char*>(raw), key_bytes);
    std::uint64_t stored_mac = 0;
    std::memcpy(&stored_mac, raw + key_bytes, 8);
    // Another namespace, another prefix or another secret: another MAC.
    if (stored_mac != mac(namespace_number, prefix, key)) return std::nullopt;
    if (key_bytes > storage.size()) return std::nullopt;
    std::memcpy(storage.data(), raw, key_bytes);
    return std::string_view(storage.data(), key_bytes);
}

}  // namespace ringkv::api
