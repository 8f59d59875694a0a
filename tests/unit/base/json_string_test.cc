// The one JSON string escaper: quotes and backslashes escaped, control bytes
// and DEL as \u00XX; bytes past ASCII as they are, or escaped too for text
// a client sent (the request journal's paths), so the output is valid UTF-8.
#include <ringkv/base/json_string.hh>

#include <gtest/gtest.h>

#include <string>

namespace ringkv::base {
namespace {

std::string json_of(std::string_view text, past_ascii high = past_ascii::as_is) {
    std::string out = "<";
    append_json_string(out, text, high);
    return out + ">";  // appends, never replaces
}

TEST(json_string, escapes_quotes_backslashes_control_bytes_and_del) {
    EXPECT_EQ(json_of(""), R"(<"">)");
    EXPECT_EQ(json_of("plain /path?x=1"), R"(<"plain /path?x=1">)");
    EXPECT_EQ(json_of("a\"b\\c"), R"(<"a\"b\\c">)");
    EXPECT_EQ(json_of(std::string_view("\0\x01\t\n\x1f\x7f", 6)), R"(<"\u0000\u0001\u0009\u000a\u001f\u007f">)");
}

TEST(json_string, bytes_past_ascii_are_kept_or_escaped_as_asked) {
    const std::string_view e_acute = "\xc3\xa9";  // UTF-8 é
    const std::string_view invalid = "\xff\x80";
    EXPECT_EQ(json_of(e_acute), "<\"\xc3\xa9\">");
    EXPECT_EQ(json_of(e_acute, past_ascii::escaped), R"(<"\u00c3\u00a9">)");
    EXPECT_EQ(json_of(invalid, past_ascii::escaped), R"(<"\u00ff\u0080">)");
    // Every byte: ASCII escaped alike either way, and with `escaped` the
    // output is plain ASCII.
    for (int byte = 0; byte < 256; ++byte) {
        const std::string one(1, char(byte));
        const std::string escaped = json_of(one, past_ascii::escaped);
        for (const char c : escaped) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << byte;
        if (byte < 0x80) {
            EXPECT_EQ(escaped, json_of(one)) << byte;
        }
    }
}

}  // namespace
}  // namespace ringkv::base
