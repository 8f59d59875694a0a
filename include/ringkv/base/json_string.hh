#pragma once
// A JSON string literal, quotes included: `"` and `\` escaped, control bytes
// and DEL as \u00XX, every other byte as it is, or, with
// past_ascii::escaped, bytes past ASCII as \u00XX too (for text a client sent
// that may not be UTF-8: the output is then valid UTF-8 whatever it holds).
// The one escaper that error bodies, control answers, /_ringkv/stats and the
// request journal share.

#include <string>
#include <string_view>

namespace ringkv::base {

enum class past_ascii : bool { as_is, escaped };

inline void append_json_string(std::string& out, std::string_view text, past_ascii high = past_ascii::as_is) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (byte < 0x20 || byte == 0x7f || (byte > 0x7f && high == past_ascii::escaped)) {
            out.append("\\u00");
            out.push_back(hex[byte >> 4]);
            out.push_back(hex[byte & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

}  // namespace ringkv::base
