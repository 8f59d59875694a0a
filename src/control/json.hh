#pragma once
// A strict, bounded JSON reader for the control plane's bodies (rules, clock,
// state) and the --rules file: RFC 8259 exactly (UTF-8 only, no trailing
// commas, no comments, nothing after the value), read into a small tree the
// decoders walk. Bounds: nesting depth_max, values_max values in all, and
// the text itself, which the HTTP layer bounds (limits::body_bytes_max) and
// the --rules loader bounds the same way. Numbers keep their text, so a
// decoder can tell 5 from 5.0 and read an integer exactly.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::control::json {

// Deeper than any rule body needs (a rule is 3 levels below its list).
inline constexpr std::size_t depth_max = 16;
// Values in one document: a list of rules_max rules of ~30 values each fits.
inline constexpr std::size_t values_max = 100'000;

enum class type : std::uint8_t { null, boolean, number, string, array, object };

struct member;

struct value {
    json::type type = type::null;
    bool boolean = false;
    double number = 0;
    std::string text;  // a string's decoded text, or a number's own text
    std::vector<value> items;                            // array
    std::vector<member> members;  // object, in order (duplicates kept)

    // The first member of that name, or nullptr.
    const value* find(std::string_view name) const;
    // A number written without fraction or exponent, in range: its value.
    std::optional<std::int64_t> integer() const;
};

// An object's member (named like a pair's halves).
struct member {
    std::string first;  // the name
    value second;
};

struct parsed {
    std::optional<value> root;  // empty when the text is not valid JSON
    std::string error;          // why not, with the byte offset
};

parsed parse(std::string_view text);

// Appends `text` as a JSON string (quotes, escapes) to out.
void append_string(std::string& out, std::string_view text);

}  // namespace ringkv::control::json
