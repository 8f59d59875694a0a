#include "cursor.hh"

#include <xxhash.h>

#include <cstring>

namespace ringkv::api {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t header_bytes = 12, mac_bytes = 8;
constexpr std::size_t raw_bytes_max = header_bytes + 256 + mac_bytes;

int decode_digit(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

void put64(unsigned char* at, std::uint64_t v) { std::memcpy(at, &v, 8); }
void put32(unsigned char* at, std::uint32_t v) { std::memcpy(at, &v, 4); }

}  // namespace

std::uint64_t cursor_codec::mac(std::string_view bytes) const {
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), _secret);
}

void cursor_codec::encode(std::uint32_t namespace_number, std::string_view prefix, std::string_view last_key,
                          std::string& out) const {
    unsigned char raw[raw_bytes_max];
    const std::size_t key_bytes = std::min<std::size_t>(last_key.size(), 256);
    put32(raw, namespace_number);
    put64(raw + 4, XXH3_64bits(prefix.data(), prefix.size()));
    // memcpy wants real pointers even for zero bytes (an empty view's may be null).
    if (key_bytes != 0) std::memcpy(raw + header_bytes, last_key.data(), key_bytes);
    const std::size_t signed_bytes = header_bytes + key_bytes;
    put64(raw + signed_bytes, mac({reinterpret_cast<char*>(raw), signed_bytes}));
    const std::size_t total = signed_bytes + mac_bytes;
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
    if (bytes < header_bytes + 1 + mac_bytes || bytes > raw_bytes_max) return std::nullopt;
    const std::size_t signed_bytes = bytes - mac_bytes;
    std::uint64_t stored_mac = 0, stored_prefix = 0;
    std::uint32_t stored_namespace = 0;
    std::memcpy(&stored_mac, raw + signed_bytes, 8);
    std::memcpy(&stored_namespace, raw, 4);
    std::memcpy(&stored_prefix, raw + 4, 8);
    if (stored_mac != mac({reinterpret_cast<char*>(raw), signed_bytes})) return std::nullopt;
    if (stored_namespace != namespace_number || stored_prefix != XXH3_64bits(prefix.data(), prefix.size())) {
        return std::nullopt;
    }
    const std::size_t key_bytes = signed_bytes - header_bytes;
    if (key_bytes > storage.size()) return std::nullopt;
    if (key_bytes != 0) std::memcpy(storage.data(), raw + header_bytes, key_bytes);
    return std::string_view(storage.data(), key_bytes);
}

}  // namespace ringkv::api
