#pragma once
// Key names (API.md "Keys"): the path text after /keys/, percent-decoded
// once, 1-256 characters of [-/_=.a-zA-Z0-9], not starting with '_'.

#include <optional>
#include <span>
#include <string_view>

namespace ringkv::api {

inline constexpr std::size_t key_bytes_max = 256;

// Decodes and validates; the key is written to `storage` (key_bytes_max).
std::optional<std::string_view> decode_key(std::string_view raw, std::span<char> storage);
bool valid_key(std::string_view key);

// Namespace names: 1-255 characters of [a-z0-9-].
bool valid_namespace_name(std::string_view name);

}  // namespace ringkv::api
