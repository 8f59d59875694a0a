#include "keys.hh"

#include "text.hh"

namespace ringkv::api {

bool valid_key(std::string_view key) {
    if (key.empty() || key.size() > key_bytes_max || key.front() == '_') return false;
    for (const char c : key) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '/' || c == '_' || c == '=' || c == '.';
        if (!ok) return false;
    }
    return true;
}

std::optional<std::string_view> decode_key(std::string_view raw, std::span<char> storage) {
    const auto bytes = percent_decode(raw, storage.first(std::min(storage.size(), key_bytes_max)));
    if (!bytes) return std::nullopt;
    const std::string_view key(storage.data(), *bytes);
    if (!valid_key(key)) return std::nullopt;
    return key;
}

bool valid_namespace_name(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    for (const char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

}  // namespace ringkv::api
