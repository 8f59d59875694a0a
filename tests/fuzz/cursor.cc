// Listing cursors (src/api/cursor.hh).
//
// Input: [mode 1][secret 8][namespace 4][prefix length 1][prefix][rest...]
//   mode 0: the rest is cursor text from a client; decoding it never
//     crashes or writes past its storage, and what decodes is a 1-256 byte
//     key the codec issues cursors for.
//   mode 1: the rest is a last key; encode then decode gives it back, for
//     its own namespace and prefix only, and only with the same secret; the
//     text carries the key and a MAC only (nothing about the namespace).
#include "common.hh"

#include "api/cursor.hh"
#include "api/keys.hh"

#include <array>
#include <string>

namespace {

using namespace ringkv::api;
using ringkv::fuzz::input_reader;

void check_decode(const cursor_codec& codec, std::uint32_t ns, std::string_view prefix, std::string_view text) {
    std::array<char, key_bytes_max + 1> storage;
    storage.back() = '\xaa';
    const auto key = codec.decode(text, ns, prefix, std::span<char>(storage.data(), key_bytes_max));
    RINGKV_FUZZ_CHECK(storage.back() == '\xaa', "decode wrote past its storage");
    if (!key) return;
    RINGKV_FUZZ_CHECK(!key->empty() && key->size() <= key_bytes_max);
    // A cursor has one spelling: what decodes is exactly what the codec
    // issues for that key.
    std::string again;
    codec.encode(ns, prefix, *key, again);
    RINGKV_FUZZ_CHECK(again == text, text);
    std::array<char, key_bytes_max> again_storage;
    const auto again_key = codec.decode(again, ns, prefix, again_storage);
    RINGKV_FUZZ_CHECK(again_key && *again_key == *key, text);
}

void check_round_trip(const cursor_codec& codec, std::uint64_t secret, std::uint32_t ns, std::string_view prefix,
                      std::string_view key) {
    if (key.empty() || key.size() > key_bytes_max) return;  // keys are 1-256 bytes
    std::string text;
    codec.encode(ns, prefix, key, text);
    RINGKV_FUZZ_CHECK(text.size() <= cursor_codec::text_bytes_max);
    for (const char c : text) {
        const bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        RINGKV_FUZZ_CHECK(url_safe, text);
    }
    // The text is the key and a MAC, nothing else (no namespace number, no
    // digest of the prefix): 4 characters per 3 bytes, and the key's whole
    // 3-byte groups spelled the same whatever the namespace and prefix.
    RINGKV_FUZZ_CHECK(text.size() == (4 * (key.size() + cursor_codec::mac_bytes) + 2) / 3, text);
    std::string elsewhere;
    codec.encode(ns + 1, std::string(prefix) + "x", key, elsewhere);
    RINGKV_FUZZ_CHECK(elsewhere.size() == text.size(), text);
    const std::size_t clear = key.size() / 3 * 4;
    RINGKV_FUZZ_CHECK(elsewhere.compare(0, clear, text, 0, clear) == 0, text);
    std::array<char, key_bytes_max> storage;
    const auto back = codec.decode(text, ns, prefix, storage);
    RINGKV_FUZZ_CHECK(back && *back == key, text);
    // Bound to its namespace, its prefix and this process's secret.
    RINGKV_FUZZ_CHECK(!codec.decode(text, ns + 1, prefix, storage), text);
    RINGKV_FUZZ_CHECK(!codec.decode(text, ns ^ 0x80000000u, prefix, storage), text);
    RINGKV_FUZZ_CHECK(!codec.decode(text, ns, std::string(prefix) + "a", storage), text);
    if (!prefix.empty()) RINGKV_FUZZ_CHECK(!codec.decode(text, ns, prefix.substr(1), storage), text);
    RINGKV_FUZZ_CHECK(!cursor_codec(secret + 1).decode(text, ns, prefix, storage), text);
    // Cut, it is refused; extended, it is refused or names the same key.
    RINGKV_FUZZ_CHECK(!codec.decode(text.substr(0, text.size() - 1), ns, prefix, storage), text);
    const auto extended = codec.decode(text + "A", ns, prefix, storage);
    RINGKV_FUZZ_CHECK(!extended || *extended == key, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    const std::uint8_t mode = in.byte();
    const std::uint64_t secret = in.u64();
    const std::uint32_t ns = in.u32();
    const std::string_view prefix = in.take(in.byte());
    const std::string_view rest = in.rest();
    const cursor_codec codec(secret);
    if (mode & 1) {
        check_round_trip(codec, secret, ns, prefix, rest);
    } else {
        check_decode(codec, ns, prefix, rest);
    }
    // An empty prefix as the API passes it (a default view, no data).
    if (mode & 2) check_decode(codec, ns, std::string_view{}, rest);
    return 0;
}
