#pragma once
// The opaque cursor of key listings: where to resume (the last key
// returned), bound to its namespace and prefix, and signed with a secret
// drawn at start-up, so a cursor this server did not issue, or one used
// with another namespace or prefix, is recognised (400).
// Text form: base64url of [namespace number 4][prefix hash 8][key][mac 8].

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringkv::api {

class cursor_codec {
public:
    explicit cursor_codec(std::uint64_t secret) : _secret(secret) {}

    // Appends the cursor text to `out`.
    void encode(std::uint32_t namespace_number, std::string_view prefix, std::string_view last_key,
                std::string& out) const;
    // The last key (written to `storage`), or nullopt for a foreign cursor.
    std::optional<std::string_view> decode(std::string_view text, std::uint32_t namespace_number,
                                           std::string_view prefix, std::span<char> storage) const;

    static constexpr std::size_t text_bytes_max = 4 * ((4 + 8 + 256 + 8 + 2) / 3) + 4;

private:
    std::uint64_t mac(std::string_view bytes) const;
    std::uint64_t _secret;
};

}  // namespace ringkv::api
