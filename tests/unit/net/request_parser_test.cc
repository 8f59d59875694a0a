// The parser is fed the same bytes cut at every possible point (and one byte
// at a time); what it reports must not depend on where the cuts fall.
#include <ringkv/base/limits.hh>
#include <ringkv/net/http/request_parser.hh>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace ringkv::net::http {
namespace {

using event = request_parser::event;
using failure = request_parser::failure;

// What the parser reported, in a comparable form.
std::string describe(const request_head& h, const std::string& body) {
    std::string s = std::to_string(int(h.method)) + " " + std::string(h.target) + " path=" + std::string(h.path) +
                    " query=" + std::string(h.query) + " ct=" + std::string(h.content_type) +
                    " auth=" + std::string(h.authorization) + " chunked=" + std::to_string(h.chunked) +
                    " expect=" + std::to_string(h.expect_continue) + " keep=" + std::to_string(h.keep_alive) +
                    " minor=" + std::to_string(h.version_minor);
    if (h.content_length) s += " cl=" + std::to_string(*h.content_length);
    return s + " body=" + body;
}

// Feeds `input` in pieces ending at each of `cuts` (and at the end), acting
// like a connection that accepts bodies up to body_limit.
std::vector<std::string> feed(const std::string& input, const std::vector<std::size_t>& cuts,
                              std::size_t body_limit = limits::body_bytes_max) {
    request_parser parser;
    std::vector<std::string> transcript;
    std::size_t given = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(input.size());
    for (const std::size_t end : ends) {
        while (given < end) {
            std::span<char> room = parser.free_space();
            const std::size_t n = std::min(room.size(), end - given);
            std::memcpy(room.data(), input.data() + given, n);
            parser.received(n);
            given += n;
            for (;;) {
                const event e = parser.next();
                if (e == event::need_more) break;
                if (e == event::head_ready) {
                    transcript.push_back("head " + std::string(parser.head().target));
                    parser.accept_body(body_limit);
                } else if (e == event::message_ready) {
                    transcript.push_back(describe(parser.head(), parser.body()));
                } else {
                    transcript.push_back("failed " + std::to_string(int(parser.error())));
                    return transcript;
                }
            }
        }
    }
    return transcript;
}

void expect_same_at_every_split(const std::string& input, std::size_t body_limit = limits::body_bytes_max) {
    const std::vector<std::string> whole = feed(input, {}, body_limit);
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
        ASSERT_EQ(feed(input, {cut}, body_limit), whole) << "cut at " << cut;
    }
    // Two cuts, on a stride to keep the square small for long inputs.
    const std::size_t stride = std::max<std::size_t>(1, input.size() / 40);
    for (std::size_t a = 1; a < input.size(); a += stride) {
        for (std::size_t b = a + 1; b < input.size(); b += stride) {
            ASSERT_EQ(feed(input, {a, b}, body_limit), whole) << "cuts at " << a << "," << b;
        }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    ASSERT_EQ(feed(input, every, body_limit), whole) << "one byte at a time";
}

TEST(request_parser, simple_get) {
    const std::string input = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer tok \r\n\r\n";
    const auto t = feed(input, {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1], "0 /healthz?x=1 path=/healthz query=x=1 ct= auth=Bearer tok chunked=0 expect=0 keep=1 minor=1 body=");
    expect_same_at_every_split(input);
}

TEST(request_parser, pipelined_requests_in_order) {
    std::string input;
    for (int i = 0; i < 5; ++i) {
        input += "PUT /k" + std::to_string(i) + " HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nv" +
                 std::to_string(i) + "!";
    }
    const auto t = feed(input, {});
    ASSERT_EQ(t.size(), 10u);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(t[2 * i + 1], "3 /k" + std::to_string(i) + " path=/k" + std::to_string(i) +
                                    " query= ct=text/plain auth= chunked=0 expect=0 keep=1 minor=1 cl=3 body=v" +
                                    std::to_string(i) + "!");
    }
    expect_same_at_every_split(input);
}

TEST(request_parser, chunked_body_with_extensions_and_trailers) {
    const std::string input =
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\n"
        "GET /after HTTP/1.1\r\n\r\n";
    const auto t = feed(input, {});
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[1], "2 /x path=/x query= ct= auth= chunked=1 expect=0 keep=1 minor=1 body=hello world");
    EXPECT_EQ(t[3].substr(0, 9), "0 /after ");
    expect_same_at_every_split(input);
}

TEST(request_parser, http10_and_connection_close) {
    const auto t10 = feed("GET / HTTP/1.0\r\n\r\n", {});
    ASSERT_EQ(t10.size(), 2u);
    EXPECT_NE(t10[1].find("keep=0 minor=0"), std::string::npos);
    const auto t10k = feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {});
    EXPECT_NE(t10k[1].find("keep=1 minor=0"), std::string::npos);
    const auto close = feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", {});
    EXPECT_NE(close[1].find("keep=0 minor=1"), std::string::npos);
}

TEST(request_parser, expect_continue_is_reported) {
    const auto t = feed("PUT /k HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_NE(t[1].find("expect=1"), std::string::npos);
}

TEST(request_parser, malformed_input_fails) {
    EXPECT_EQ(feed("GARBAGE\r\n\r\n", {}).back(), "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("GET / HTTP/1.1\r\nBad Header\r\n\r\n", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
}

TEST(request_parser, target_over_8_kib_is_414) {
    const std::string ok = "GET /" + std::string(limits::target_bytes_max - 1, 'a') + " HTTP/1.1\r\n\r\n";
    EXPECT_EQ(feed(ok, {}).size(), 2u);
    const std::string too_long = "GET /" + std::string(limits::target_bytes_max, 'a') + " HTTP/1.1\r\n\r\n";
    EXPECT_EQ(feed(too_long, {}).back(), "failed " + std::to_string(int(failure::target_too_long)));
    EXPECT_EQ(feed(too_long, {100, 5000}).back(), "failed " + std::to_string(int(failure::target_too_long)));
}

TEST(request_parser, header_block_over_16_kib_is_431) {
    // Header lines ("Name: value\r\n") adding up to exactly `bytes`; the
    // blank line that ends the head is not part of the block.
    const auto with_block = [](std::size_t bytes) {
        constexpr std::size_t line_bytes = 100, overhead_bytes = 9;  // "X-Pad: " + CRLF
        std::string block;
        while (bytes - block.size() >= 2 * line_bytes) {
            block += "X-Pad: " + std::string(line_bytes - overhead_bytes, 'p') + "\r\n";
        }
        block += "X-End: " + std::string(bytes - block.size() - overhead_bytes, 'e') + "\r\n";
        EXPECT_EQ(block.size(), bytes);
        return "GET / HTTP/1.1\r\n" + block + "\r\n";
    };
    EXPECT_EQ(feed(with_block(limits::header_block_bytes_max), {}).size(), 2u);
    EXPECT_EQ(feed(with_block(limits::header_block_bytes_max + 1), {}).back(),
              "failed " + std::to_string(int(failure::header_too_large)));
    // An endless header line is cut off without waiting for its end.
    const std::string endless = "GET / HTTP/1.1\r\nX-Long: " + std::string(30000, 'x');
    EXPECT_EQ(feed(endless, {}).back(), "failed " + std::to_string(int(failure::header_too_large)));
}

TEST(request_parser, chunked_body_over_limit_fails_as_soon_as_it_passes) {
    const std::string input = "PUT /k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n";
    EXPECT_EQ(feed(input, {}, 8).size(), 1u);  // at the limit: still waiting for more
    EXPECT_EQ(feed(input, {}, 7).back(), "failed " + std::to_string(int(failure::body_too_large)));
}

TEST(request_parser, body_of_a_megabyte_arrives_whole) {
    std::string body(limits::body_bytes_max, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = char(i * 7);
    const std::string input = "PUT /big HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body +
                              "GET /next HTTP/1.1\r\n\r\n";
    const auto t = feed(input, {10, 70000, 500000});
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), body);
    EXPECT_EQ(t[2], "head /next");
}

}  // namespace
}  // namespace ringkv::net::http
