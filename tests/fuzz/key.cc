// Key names (src/api/keys.hh): decode_key and valid_key against the rule
// of API.md ("1-256 characters of [-/_=.a-zA-Z0-9], not starting with '_'",
// after one percent-decoding), and namespace names (1-255 of [a-z0-9-]).
//
// Input: [storage bytes 2][raw key text...]
#include "common.hh"

#include "api/keys.hh"

#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ringkv::api;
using ringkv::fuzz::input_reader;
using ringkv::fuzz::reference_decode;

bool key_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
           c == '_' || c == '=' || c == '.';
}

bool reference_valid(std::string_view key) {
    if (key.empty() || key.size() > 256 || key[0] == '_') return false;
    for (const char c : key) {
        if (!key_character(c)) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    // The API gives key_bytes_max of storage; smaller and larger rooms must
    // be honoured too (the key never passes 256 bytes).
    const std::size_t room = in.u16() % 600;
    const std::string_view raw = in.rest();

    std::vector<char> storage(room + 1, '\xaa');
    const auto key = decode_key(raw, std::span<char>(storage.data(), room));
    RINGKV_FUZZ_CHECK(storage[room] == '\xaa', "decode_key wrote past its storage");
    const auto decoded = reference_decode(raw);
    const bool expected = decoded && decoded->size() <= std::min(room, key_bytes_max) && reference_valid(*decoded);
    RINGKV_FUZZ_CHECK(key.has_value() == expected, raw);
    if (key) {
        RINGKV_FUZZ_CHECK(*key == *decoded, raw);
        RINGKV_FUZZ_CHECK(key->data() == storage.data());
        RINGKV_FUZZ_CHECK(valid_key(*key), raw);
    }
    RINGKV_FUZZ_CHECK(valid_key(raw) == reference_valid(raw), raw);

    bool name_ok = !raw.empty() && raw.size() <= 255;
    for (const char c : raw) name_ok = name_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    RINGKV_FUZZ_CHECK(valid_namespace_name(raw) == name_ok, raw);
    return 0;
}
