#pragma once
// The opaque cursor of key listings: where to resume (the last key
// returned), bound to its namespace and prefix, and signed with a secret
// drawn at start-up, so a cursor this server did not issue, or one used
// with another namespace or prefix, is recognised (400).
// Text form: base64url (no padding) of [key][mac 8], one spelling only.
// The namespace and the prefix are bound by the MAC alone (its input holds
// them; the text does not): the namespace number is global and sequential,
// so carrying it would tell a tenant how many namespaces others created.
// The MAC is SipHash-1-3 keyed with the secret, so it reveals nothing of
// its input and cannot be forged without the secret.

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

    static constexpr std::size_t key_bytes_max = 256;
    static constexpr std::size_t mac_bytes = 8;
    // The longest text encode() writes: 4 characters per 3 bytes, rounded up.
    static constexpr std::size_t text_bytes_max = (4 * (key_bytes_max + mac_bytes) + 2) / 3;

private:
    std::uint64_t mac(std::uint32_t namespace_number, std::string_view prefix, std::string_view key) const;
    std::uint64_t _secret;
};

}  // namespace ringkv::api
