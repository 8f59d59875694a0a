#pragma once
// Small text tools of the API: percent-decoding, query strings, plain
// decimal integers, RFC 3339 timestamps, bearer tokens. All pure.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ringkv::api {

// Decodes %XX escapes once into `out` (capacity out.size()); returns the
// decoded length, or nullopt on a bad escape or overflow. '+' stays '+'.
std::optional<std::size_t> percent_decode(std::string_view text, std::span<char> out);

// Plain decimal digits only ("007" is 7; "", "+5", "5.0", "1e3" are not).
// A value past 64 bits saturates at UINT64_MAX: every parameter has a range
// far below it, so the caller's range check decides.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

// Looks a parameter up in a raw query string, decoding names and values.
// Returns nullopt when absent; the value (decoded, into `storage`) when present.
// `malformed` is set when the parameter is present but not decodable.
struct query_value {
    bool present = false;
    bool malformed = false;
    std::string_view value;
};
query_value find_query(std::string_view query, std::string_view name, std::span<char> storage);

// A parameter read as a plain decimal integer (parse_decimal's rules),
// percent-decoded as it is read, so it needs no storage and any number of
// leading zeros is fine ("007" is 7 however many zeros come first; the
// request target bounds the work). `value` is nullopt when the parameter is
// present but not plain digits (or not decodable).
struct query_number {
    bool present = false;
    std::optional<std::uint64_t> value;
};
query_number find_query_decimal(std::string_view query, std::string_view name);

// "2026-06-18T14:48:17Z"; writes 20 characters.
void format_rfc3339(std::uint32_t seconds_since_epoch, char* out);
inline constexpr std::size_t rfc3339_bytes = 20;

// The token of "Bearer <token>" (scheme case-insensitive, token trimmed),
// or empty when the header is missing, not Bearer, or has no token.
std::string_view bearer_token(std::string_view authorization);

}  // namespace ringkv::api
