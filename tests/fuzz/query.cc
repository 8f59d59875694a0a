// The API's text tools (src/api/text.hh): percent_decode, parse_decimal,
// find_query and bearer_token, each against a plain reference written
// from API.md and RFC 3986, plus round trips.
//
// Input: [selector 1][operation's bytes...]
#include "common.hh"

#include "api/text.hh"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ringkv::api;
using ringkv::fuzz::finding;
using ringkv::fuzz::input_reader;
using ringkv::fuzz::reference_decode;

std::string percent_encode(std::string_view bytes, std::uint64_t which) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '.' || c == '_' || c == '~';
        if (plain && ((which >> (i % 64)) & 1) == 0) {  // some plain bytes are escaped anyway
            out.push_back(char(c));
        } else {
            out += '%';
            out += digits[c >> 4];
            out += (which >> 63) ? "0123456789abcdef"[c & 15] : digits[c & 15];
        }
    }
    return out;
}

void check_percent_decode(input_reader& in) {
    const std::size_t room = in.choose(300);
    const std::string_view text = in.rest();
    std::vector<char> out(room + 1, '\xaa');  // one guard byte past the room
    const auto written = percent_decode(text, std::span<char>(out.data(), room));
    const auto expected = reference_decode(text);
    RINGKV_FUZZ_CHECK(out[room] == '\xaa', "percent_decode wrote past its output");
    if (!written) {
        RINGKV_FUZZ_CHECK(!expected || expected->size() > room, text);
        return;
    }
    RINGKV_FUZZ_CHECK(*written <= text.size(), text);
    RINGKV_FUZZ_CHECK(expected && *expected == std::string_view(out.data(), *written), text);
}

void check_round_trip(input_reader& in) {
    const std::uint64_t which = in.u64();
    const std::string_view bytes = in.rest();
    const std::string encoded = percent_encode(bytes, which);
    std::vector<char> out(bytes.size());
    const auto written = percent_decode(encoded, out);
    RINGKV_FUZZ_CHECK(written && std::string_view(out.data(), *written) == bytes, encoded);
}

void check_parse_decimal(input_reader& in) {
    const std::string_view text = in.rest();
    const auto value = parse_decimal(text);
    bool digits = !text.empty();
    std::uint64_t expected = 0;
    bool saturated = false;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            digits = false;
            break;
        }
        const auto d = unsigned(c - '0');
        if (__builtin_mul_overflow(expected, 10u, &expected) || __builtin_add_overflow(expected, d, &expected)) {
            saturated = true;
        }
    }
    RINGKV_FUZZ_CHECK(value.has_value() == digits, text);
    if (digits) RINGKV_FUZZ_CHECK(*value == (saturated ? UINT64_MAX : expected), text);
}

// The names the API looks up, and a few that are not.
constexpr std::array<std::string_view, 8> names = {"prefix", "cursor", "limit", "ttl_secs",
                                                   "page[number]", "page[size]", "", "a"};

// The first pair whose decoded name matches; a value that does not decode
// is present and malformed. Every pair of the query is read.
query_value reference_find(std::string_view query, std::string_view name, std::string& storage, std::size_t room) {
    query_value result;
    std::size_t start = 0;
    while (start < query.size()) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view pair = query.substr(start, amp - start);
        start = amp + 1;
        const std::size_t equals = pair.find('=');
        const auto decoded_name = reference_decode(pair.substr(0, equals));
        if (!decoded_name || *decoded_name != name) continue;
        result.present = true;
        const auto value = reference_decode(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1));
        if (!value || value->size() > room) {
            result.malformed = true;
            return result;
        }
        storage = *value;
        result.value = storage;
        return result;
    }
    return result;
}

void check_find_query(input_reader& in) {
    const std::string_view name = names[in.choose(names.size())];
    const std::size_t room = in.choose(2) == 0 ? 8 : 1024;
    const std::string_view query = in.rest();
    std::vector<char> storage(room);
    const query_value got = find_query(query, name, storage);
    std::string expected_storage;
    const query_value expected = reference_find(query, name, expected_storage, room);
    RINGKV_FUZZ_CHECK(got.present == expected.present, std::string(name) + " in " + std::string(query));
    RINGKV_FUZZ_CHECK(got.malformed == expected.malformed, std::string(name) + " in " + std::string(query));
    if (got.present && !got.malformed) {
        RINGKV_FUZZ_CHECK(got.value == expected.value, std::string(name) + " in " + std::string(query));
        RINGKV_FUZZ_CHECK(got.value.empty() || got.value.data() == storage.data());
    }
}

void check_bearer_token(input_reader& in) {
    const std::string_view header = in.rest();
    const std::string_view token = bearer_token(header);
    if (token.empty()) return;
    // A view into the header, after "Bearer" and blanks, with no blank at either end.
    RINGKV_FUZZ_CHECK(token.data() >= header.data() + 7 && token.data() + token.size() <= header.data() + header.size());
    RINGKV_FUZZ_CHECK(token.front() != ' ' && token.front() != '\t' && token.back() != ' ' && token.back() != '\t');
    RINGKV_FUZZ_CHECK(header.size() > 6 && (header[6] == ' ' || header[6] == '\t'));
    for (std::size_t i = 0; i < 6; ++i) RINGKV_FUZZ_CHECK((header[i] | 0x20) == "bearer"[i], header);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    switch (in.choose(5)) {
        case 0: check_percent_decode(in); break;
        case 1: check_round_trip(in); break;
        case 2: check_parse_decimal(in); break;
        case 3: check_find_query(in); break;
        default: check_bearer_token(in); break;
    }
    return 0;
}
