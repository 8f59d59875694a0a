#pragma once
// Helpers shared by the harnesses: a byte reader over the fuzzer's input
// and a failure report that libFuzzer records as a finding (abort).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace ringkv::fuzz {

// Prints what the oracle saw and aborts, so libFuzzer saves the input.
[[noreturn]] inline void finding(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "ringkv fuzz finding: %s", what);
    if (!detail.empty()) {
        std::fprintf(stderr, ": ");
        for (const char c : detail.substr(0, 512)) {  // escaped: the detail may hold any byte
            const auto u = static_cast<unsigned char>(c);
            if (u >= 0x20 && u < 0x7f && u != '\\') {
                std::fputc(c, stderr);
            } else {
                std::fprintf(stderr, "\\x%02x", u);
            }
        }
    }
    std::fputc('\n', stderr);
    std::abort();
}

#define RINGKV_FUZZ_CHECK(condition, ...)                                     \
    do {                                                                      \
        if (!(condition)) ::ringkv::fuzz::finding(#condition __VA_OPT__(, ) __VA_ARGS__); \
    } while (0)

// Takes bytes from the front of the input; past its end it yields zeros
// (and empty strings), so every input decodes to some operation sequence.
class input_reader {
public:
    input_reader(const std::uint8_t* data, std::size_t bytes) : _data(data), _bytes(bytes) {}

    bool empty() const { return _at >= _bytes; }
    std::size_t remaining() const { return _bytes - _at; }

    std::uint8_t byte() { return _at < _bytes ? _data[_at++] : 0; }
    std::uint16_t u16() { return std::uint16_t(byte() | (std::uint16_t(byte()) << 8)); }
    std::uint32_t u32() { return std::uint32_t(u16()) | (std::uint32_t(u16()) << 16); }
    std::uint64_t u64() { return std::uint64_t(u32()) | (std::uint64_t(u32()) << 32); }
    // One of n choices (n > 0).
    std::size_t choose(std::size_t n) { return byte() % n; }

    // Up to bytes_max bytes, the length taken from the input first.
    std::string_view bytes(std::size_t bytes_max) {
        const std::size_t want = bytes_max == 0 ? 0 : u16() % (bytes_max + 1);
        return take(want);
    }
    std::string_view take(std::size_t want) {
        const std::size_t n = want < remaining() ? want : remaining();
        const std::string_view out(reinterpret_cast<const char*>(_data + _at), n);
        _at += n;
        return out;
    }
    std::string_view rest() { return take(remaining()); }

private:
    const std::uint8_t* _data;
    std::size_t _bytes;
    std::size_t _at = 0;
};

// A small deterministic generator (splitmix64), for choices derived from
// a seed read out of the input.
class splitmix {
public:
    explicit splitmix(std::uint64_t seed) : _state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t _state;
};

// The percent-decoding the API documents, written plainly, as the oracle of
// the decoders under test: %XX once; nullopt on a bad or cut escape; '+'
// stays '+'.
inline int reference_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline std::optional<std::string> reference_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (text.size() - i < 3 || reference_hex(text[i + 1]) < 0 || reference_hex(text[i + 2]) < 0) {
            return std::nullopt;
        }
        out.push_back(char(reference_hex(text[i + 1]) * 16 + reference_hex(text[i + 2])));
        i += 2;
    }
    return out;
}

}  // namespace ringkv::fuzz
