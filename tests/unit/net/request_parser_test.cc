// The parser is fed the same bytes cut at every possible point (and one byte
// at a time); what it reports must not depend on where the cuts fall.
#include <ringkv/base/limits.hh>
#include <ringkv/net/http/request_parser.hh>

#include <gtest/gtest.h>

#include <sstream>

#include <algorithm>
#include <cstring>
#include <limits>
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

// Every view the application sees, copied.
std::vector<std::string> views_of(const request_head& h) {
    return {std::string(h.target), std::string(h.path), std::string(h.query), std::string(h.content_type),
            std::string(h.authorization)};
}

bool holds_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return (b < 0x20 && c != '\t') || b == 0x7f;
    });
}

// Bytes of free space overwritten past each piece (a recv may write its
// whole room): a view into that room, or bytes read past those received,
// show up as this pattern. Bounded, so byte-at-a-time feeds stay fast.
constexpr std::size_t scribble_bytes = 512;
constexpr char scribble = 'Z';

// A connection's use of the parser, accepting (or discarding) bodies up to
// body_limit. The oracle: no view holds a control character, and the views
// taken at head_ready still read the same at message_ready (after the body
// was read, the buffer compacted and the free space scribbled over).
class reader {
public:
    explicit reader(std::size_t body_limit = limits::body_bytes_max, bool discard = false,
                    std::size_t scribble_max = scribble_bytes)
        : _body_limit(body_limit), _discard(discard), _scribble_max(scribble_max) {}

    // Receives `piece`, in as many reads as the free space takes, each
    // followed by every event up to need_more (the message before it is
    // finished then, as a connection does before its next read). False once
    // the parser failed.
    bool send(std::string_view piece) {
        while (!piece.empty() && !_failed) {
            piece.remove_prefix(receive(piece));
            handle_events();
        }
        return !_failed;
    }

    request_parser& parser() { return _parser; }
    const std::vector<std::string>& transcript() const { return _transcript; }

private:
    // Writes the start of `piece` where free_space() says, after filling up
    // to _scribble_max more bytes of the room with the pattern.
    std::size_t receive(std::string_view piece) {
        std::span<char> room = _parser.free_space();
        EXPECT_GE(room.size(), 1u);
        const std::size_t n = std::min(room.size(), piece.size());
        std::memset(room.data(), scribble, n + std::min(_scribble_max, room.size() - n));
        std::memcpy(room.data(), piece.data(), n);
        _parser.received(n);
        return n;
    }

    void handle_events() {
        for (;;) {
            const event e = _parser.next();
            if (e == event::need_more) return;
            if (e == event::head_ready) {
                _transcript.push_back("head " + std::string(_parser.head().target));
                _at_head = views_of(_parser.head());
                for (const std::string& v : _at_head) EXPECT_FALSE(holds_control(v)) << v;
                if (_discard) _parser.discard_body(_body_limit);
                else _parser.accept_body(_body_limit);
            } else if (e == event::message_ready) {
                EXPECT_EQ(views_of(_parser.head()), _at_head) << "the head moved under its views";
                _transcript.push_back(describe(_parser.head(), _parser.body()));
            } else {
                _transcript.push_back("failed " + std::to_string(int(_parser.error())));
                _failed = true;
                return;
            }
        }
    }

    request_parser _parser;
    const std::size_t _body_limit;
    const bool _discard;
    const std::size_t _scribble_max;
    std::vector<std::string> _transcript;
    std::vector<std::string> _at_head;
    bool _failed = false;
};

// Feeds `input` in pieces ending at each of `cuts` (and at the end).
std::vector<std::string> feed(const std::string& input, const std::vector<std::size_t>& cuts,
                              std::size_t body_limit = limits::body_bytes_max, bool discard = false) {
    reader r(body_limit, discard);
    std::size_t given = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(input.size());
    for (const std::size_t end : ends) {
        if (end <= given) continue;
        if (!r.send(std::string_view(input).substr(given, end - given))) break;
        given = end;
    }
    return r.transcript();
}

std::string failed(failure f) { return "failed " + std::to_string(int(f)); }

// The last event, or "waiting" when the parser reported nothing.
std::string last(const std::vector<std::string>& transcript) {
    return transcript.empty() ? "waiting" : transcript.back();
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

std::string put(const std::string& target, const std::string& body, const std::string& extra = "") {
    return "PUT " + target + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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
        input += "PUT /k" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nv" +
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
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\n"
        "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
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
    const auto close = feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {});
    EXPECT_NE(close[1].find("keep=0 minor=1"), std::string::npos);
}

TEST(request_parser, expect_continue_is_reported) {
    const auto t = feed("PUT /k HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_NE(t[1].find("expect=1"), std::string::npos);
}

TEST(request_parser, malformed_input_fails) {
    EXPECT_EQ(feed("GARBAGE\r\n\r\n", {}).back(), "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("GET / HTTP/1.1\r\nBad Header\r\n\r\n", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
    EXPECT_EQ(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", {}).back(),
              "failed " + std::to_string(int(failure::malformed)));
}

TEST(request_parser, target_over_8_kib_is_414) {
    const std::string ok = "GET /" + std::string(limits::target_bytes_max - 1, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
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
        std::string block = "Host: h\r\n";
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
    const std::string input = "PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n";
    EXPECT_EQ(feed(input, {}, 8).size(), 1u);  // at the limit: still waiting for more
    EXPECT_EQ(feed(input, {}, 7).back(), "failed " + std::to_string(int(failure::body_too_large)));
}

TEST(request_parser, body_of_a_megabyte_arrives_whole) {
    std::string body(limits::body_bytes_max, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = char(i * 7);
    const std::string input = "PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body +
                              "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    const auto t = feed(input, {10, 70000, 500000});
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), body);
    EXPECT_EQ(t[2], "head /next");
}


// Defect 1: a message ending exactly at the buffer's end (and at every
// offset around it) left no room and tripped an assertion; the next request
// on the connection must still parse.
TEST(request_parser, messages_ending_at_and_around_the_buffer_end) {
    const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    const std::string head_only = put("/k", "");
    for (std::size_t total = limits::read_buffer_bytes - 40; total <= limits::read_buffer_bytes + 40; ++total) {
        const std::string body(total - head_only.size() - std::to_string(total).size() + 1, 'v');
        std::string first = put("/k", body);
        ASSERT_GE(first.size(), total - 8);
        const auto t = feed(first + next, {first.size()});
        ASSERT_EQ(t.size(), 4u) << "first message of " << first.size() << " bytes";
        EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), body);
        EXPECT_EQ(t[3].substr(0, 8), "0 /next ");
        // The same with a prefix of small pipelined requests, so the big one
        // starts deep in the buffer and must be compacted around.
        const std::string prefix = next + next + next;
        const auto u = feed(prefix + first + next, {});
        ASSERT_EQ(u.size(), 10u);
        EXPECT_EQ(u[7].substr(u[7].find(" body=") + 6), body);
    }
}

// Defect 2: the head's views (Content-Type above all) must survive the
// body being read through the buffer many times over.
TEST(request_parser, head_views_survive_a_long_body_on_a_reused_buffer) {
    std::string input = "GET /warm?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    const std::string body(64 * 1024, 'B');
    input += put("/big?q=1", body, "Authorization: Bearer token\r\n");
    input += "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
    for (const std::vector<std::size_t>& cuts :
         std::vector<std::vector<std::size_t>>{{}, {40}, {100, 20000, 40000}, {35, 36, 37, 32768, 65536}}) {
        const auto t = feed(input, cuts);
        ASSERT_EQ(t.size(), 6u);
        EXPECT_EQ(t[3], "3 /big?q=1 path=/big query=q=1 ct=text/plain auth=Bearer token chunked=0 expect=0 keep=1 "
                        "minor=1 cl=65536 body=" + body);
    }
}

// A long pipelined stream of mixed requests wraps the buffer many times;
// it must read the same however it is cut.
TEST(request_parser, pipelined_stream_wraps_the_buffer_many_times) {
    std::string input;
    std::vector<std::string> expected;
    for (int i = 0; i < 300; ++i) {
        const std::string body(std::size_t(i * 37 % 3000), char('a' + i % 26));
        if (i % 3 == 0) {
            input += put("/k" + std::to_string(i), body);
        } else if (i % 3 == 1) {
            input += "POST /c" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
            input += "1;ext=1\r\nx\r\n";
            if (!body.empty()) input += (std::ostringstream() << std::hex << body.size()).str() + "\r\n" + body + "\r\n";
            input += "0\r\nTrailer-A: 1\r\n\r\n";
        } else {
            input += "GET /g" + std::to_string(i) + "?q=" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        }
    }
    const auto whole = feed(input, {});
    ASSERT_EQ(whole.size(), 600u);
    for (std::size_t step : {1u, 7u, 100u, 1000u, 4095u, 4097u, 30000u}) {
        std::vector<std::size_t> cuts;
        for (std::size_t at = step; at < input.size(); at += step + at % 13) cuts.push_back(at);
        ASSERT_EQ(feed(input, cuts), whole) << "step " << step;
    }
}

TEST(request_parser, every_request_kind_reads_the_same_at_every_split) {
    expect_same_at_every_split(put("/k?ttl_secs=5", "hello", "Authorization: Bearer t\r\n") +
                               "GET /k HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_same_at_every_split(
        "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;a=b;c=d\r\nhello\r\n3 ; q=\"x;y\"\r\nabc\r\n0\r\nT1: x\r\nT2:\ty z\r\n\r\n"
        "DELETE /k HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    expect_same_at_every_split("\r\n\r\nHEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
}

// Defect 6: chunk extensions (several, with values) and trailers are
// accepted and ignored (llhttp 8.1 refuses "5;a=b;c=d").
TEST(request_parser, chunk_extensions_and_trailers_are_accepted) {
    const auto t = feed("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;a=b;c=d\r\nhello\r\n0;e\r\nX-T: 1\r\n\r\n",
                        {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), "hello");
}

// Defect 5: nothing but CRLF after chunk data; the hidden request never runs.
TEST(request_parser, bytes_after_chunk_data_are_refused) {
    const std::string smuggle = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhelloXX0\r\n\r\nPUT /hidden HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nz";
    const auto t = feed(smuggle, {});
    EXPECT_EQ(t.back(), failed(failure::malformed));
    for (const std::string& line : t) EXPECT_EQ(line.find("hidden"), std::string::npos) << line;
    for (const char* body : {"5\r\nhello\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\n",
                             "5\r\nhello\r\n0\r\nBad T: x\r\n\r\n", "5\r\nhello\r\n0\r\n: x\r\n\r\n",
                             "5\r\nhello\r\n0\r\nT: a\rb\r\n\r\n", "5\r\nhello\r\n0\r\n x\r\n\r\n",
                             "5;a\x01\r\nhello\r\n0\r\n\r\n", ";\r\n", "5 5\r\nhello\r\n", "-5\r\n", "0x5\r\n"}) {
        EXPECT_EQ(feed(std::string("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") + body, {})
                      .back(),
                  failed(failure::malformed))
            << body;
    }
    const std::string endless_extension = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                                          std::string(limits::chunk_line_bytes_max, 'e');
    EXPECT_EQ(feed(endless_extension, {}).back(), failed(failure::malformed));
}

// Defect 6: RFC 9112 framing rules, each with the failure it must get.
TEST(request_parser, strict_http_1_1_framing) {
    const std::vector<std::pair<std::string, failure>> cases = {
        {"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", failure::malformed},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", failure::malformed},
        {"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", failure::malformed},
        {"GET /healthz\r\n", failure::malformed},
        {"GET /healthz\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", failure::malformed},
        {"GET / HTTP/x.y\r\nHost: h\r\n\r\n", failure::malformed},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", failure::version_not_supported},
        {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", failure::version_not_supported},
        {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", failure::version_not_supported},
        {"GET / HTTP/0.9\r\nHost: h\r\n\r\n", failure::version_not_supported},
        {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", failure::version_not_supported},
        {"GET / HTTP/1.1\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n  injected\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n\tinjected\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n folded\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", failure::malformed},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", failure::malformed},
        {"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a\rb\r\n\r\n", failure::malformed},
        {"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", failure::malformed},
    };
    for (const auto& [input, expected] : cases) {
        EXPECT_EQ(last(feed(input, {})), failed(expected)) << ::testing::PrintToString(input);
        if (input.size() < 200) {
            std::vector<std::size_t> every;
            for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
            EXPECT_EQ(last(feed(input, every)), failed(expected)) << "byte by byte: " << input;
        }
    }
}

// CONNECT and Upgrade: llhttp pauses as if the stream became another
// protocol; the parser goes on reading HTTP/1.1.
TEST(request_parser, upgrade_and_connect_keep_parsing_http) {
    const std::string input = "GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                              "Content-Length: 2\r\n\r\nxy"
                              "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    const auto t = feed(input, {});
    ASSERT_EQ(t.size(), 6u);
    EXPECT_EQ(t[3].substr(t[3].find(" body=") + 6), "xy");
    EXPECT_EQ(t[5].substr(0, 5), "0 /c ");
    expect_same_at_every_split(input);
    const auto connect = feed("CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n", {});
    ASSERT_EQ(connect.size(), 2u);
    EXPECT_EQ(connect[1].substr(0, 2), std::to_string(int(method::connect)) + " ");
    const auto options = feed("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", {});
    ASSERT_EQ(options.size(), 2u);
}

TEST(request_parser, expect_continue_is_ignored_on_http_1_0) {
    const auto t = feed("PUT /k HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_NE(t[1].find("expect=0"), std::string::npos);
}

// Defect 13: a discarded body is counted, not kept.
TEST(request_parser, discarded_body_is_not_kept_and_is_bounded) {
    const std::string body(200000, 'd');
    const auto t = feed(put("/k", body) + "GET /n HTTP/1.1\r\nHost: h\r\n\r\n", {}, limits::body_bytes_max, true);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), "");
    EXPECT_EQ(feed(put("/k", body), {}, 1000, true).back(), failed(failure::body_too_large));
}

// The bytes before a request count towards its head's bound.
TEST(request_parser, blank_lines_before_a_request_are_bounded) {
    std::string crlfs;
    for (int i = 0; i < 20000; ++i) crlfs += "\r\n";
    EXPECT_EQ(feed(crlfs, {}).back(), failed(failure::header_too_large));
    // Received a little at a time too: blank lines are not a finished
    // message, after which the buffer starts over (and the count with it).
    std::vector<std::size_t> cuts;
    for (std::size_t at = 100; at < crlfs.size(); at += 100) cuts.push_back(at);
    EXPECT_EQ(last(feed(crlfs, cuts)), failed(failure::header_too_large));
    const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(last(feed(get + crlfs, {get.size()})), failed(failure::header_too_large));
    const auto t = feed("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", {});
    ASSERT_EQ(t.size(), 2u);
}

// Feeds `input` whole and one byte at a time; both must end in `expected`.
void expect_whole_and_bytewise(const std::string& input, const std::string& expected) {
    EXPECT_EQ(last(feed(input, {})), expected) << ::testing::PrintToString(input);
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    EXPECT_EQ(last(feed(input, every)), expected) << "byte by byte: " << ::testing::PrintToString(input);
}

// Authorization and Content-Type are acted on, so a second one is refused:
// a proxy in front may pick the other (route by one token, authorise the
// other), and "the first wins" only hid the disagreement.
TEST(request_parser, a_repeated_authorization_or_content_type_is_refused) {
    const std::string head = "PUT /k HTTP/1.1\r\nHost: h\r\n";
    for (const std::string& twice : {
             std::string("Authorization: Bearer a\r\nAuthorization: Bearer b\r\n"),
             std::string("Authorization:\r\nauthorization: Bearer b\r\n"),
             std::string("Content-Type: text/plain\r\nX-Other: 1\r\nCONTENT-TYPE: text/html\r\n"),
             std::string("Content-Type:\r\nContent-Type: text/html\r\n"),
         }) {
        expect_whole_and_bytewise(head + twice + "Content-Length: 1\r\n\r\nx", failed(failure::malformed));
    }
}

// The codings of every Transfer-Encoding line count: "gzip" on one line and
// "chunked" on the next is "gzip, chunked" (llhttp checks only the last).
TEST(request_parser, transfer_codings_split_over_lines_are_refused) {
    const std::string head = "PUT /k HTTP/1.1\r\nHost: h\r\n";
    for (const std::string& codings : {
             std::string("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
             std::string("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
             std::string("Transfer-Encoding: identity\r\nX-Other: 1\r\nTransfer-Encoding: chunked\r\n"),
             std::string("Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n"),
             std::string("transfer-encoding: gzip\r\nTRANSFER-ENCODING: Chunked\r\n"),
         }) {
        expect_whole_and_bytewise(head + codings + "\r\n5\r\nhello\r\n0\r\n\r\n", failed(failure::malformed));
    }
    const auto t = feed(head + "Transfer-Encoding: Chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n", {});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1].substr(t[1].find(" body=") + 6), "hello");
}

// Every line of a head ends in CRLF: a bare LF after the request line, after
// a header line, as the blank line ending the head, or as a blank line before
// the request is 400 (RFC 9112 2.2 allows refusing it); blank CRLF lines
// before a request are skipped (2.2: a server SHOULD ignore one at least).
TEST(request_parser, a_bare_lf_anywhere_in_a_head_is_refused) {
    for (const std::string& input : {
             std::string("GET / HTTP/1.1\nHost: h\r\n\r\n"),
             std::string("GET / HTTP/1.1\r\nHost: h\n\r\n"),
             std::string("GET / HTTP/1.1\r\nHost: h\r\n\n"),
             std::string("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n"),
             std::string("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
             std::string("\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
             std::string("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\n"),
             // The bare LF comes before a later error llhttp would report
             // first when fed the whole stream (found by fuzz http_stream).
             std::string("\n\r\nGET // HTTP/0.1\xe4" "0016COo"),
             std::string("\nGET / HTTP/2.0\r\n\r\n"),
         }) {
        expect_whole_and_bytewise(input, failed(failure::malformed));
    }
    // After a whole message, a bare LF is not the CR's of the one before it.
    const std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    expect_whole_and_bytewise(first + "\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", failed(failure::malformed));
    const std::string good = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" + first + "\r\n" + first;
    expect_same_at_every_split(good);
    EXPECT_EQ(feed(good, {}).size(), 6u);
}

// A big body's memory is given back when its message is finished (the
// caller calls next() again after message_ready), not when the next message
// begins: an idle connection must not keep a megabyte.
TEST(request_parser, a_big_body_is_given_back_when_its_message_is_finished) {
    const std::string big(limits::body_bytes_max, 'b');
    const std::string input = put("/k", big);
    request_parser parser;
    std::size_t given = 0;
    bool ready = false;
    while (!ready) {
        const event e = parser.next();
        if (e == event::head_ready) {
            parser.accept_body(limits::body_bytes_max);
        } else if (e == event::message_ready) {
            ready = true;
        } else {
            ASSERT_EQ(e, event::need_more);
            ASSERT_LT(given, input.size());
            std::span<char> room = parser.free_space();
            const std::size_t n = std::min(room.size(), input.size() - given);
            std::memcpy(room.data(), input.data() + given, n);
            parser.received(n);
            given += n;
        }
    }
    EXPECT_EQ(parser.body(), big) << "the body is valid until the message is finished";
    EXPECT_EQ(parser.next(), event::need_more);
    EXPECT_TRUE(parser.body().empty());
    EXPECT_LE(parser.body().capacity(), limits::retained_body_bytes_max);
    // A small body keeps its capacity: no allocation per request.
    const std::string small = put("/s", std::string(100, 's'));
    std::memcpy(parser.free_space().data(), small.data(), small.size());
    parser.received(small.size());
    ASSERT_EQ(parser.next(), event::head_ready);
    parser.accept_body(limits::body_bytes_max);
    ASSERT_EQ(parser.next(), event::message_ready);
    const std::size_t capacity = parser.body().capacity();
    EXPECT_EQ(parser.next(), event::need_more);
    EXPECT_EQ(parser.body().capacity(), capacity);
}

// --- The read buffer between messages ----------------------------------------
// A keep-alive connection whose client waits for each answer sends its next
// request only after the last one is finished (the caller called next()
// after its message_ready): that request starts over at the buffer's start,
// so the pages after the first are never touched. Bytes already received
// of a next request (pipelined) must stay, and a head must not move while
// its body arrives.

// Requests of every kind, bodies of 0 to 900 bytes.
std::vector<std::string> keep_alive_requests() {
    std::vector<std::string> requests;
    for (int i = 0; i < 48; ++i) {
        const std::string n = std::to_string(i);
        const std::string body(std::size_t(i * 61 % 900), char('a' + i % 26));
        switch (i % 4) {
            case 0:
                requests.push_back(put("/k" + n + "?ttl_secs=" + n, body, "Authorization: Bearer t" + n + "\r\n"));
                break;
            case 1: {
                std::string chunked = "POST /c" + n + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;e=" +
                                      n + "\r\n!\r\n";
                if (!body.empty()) chunked += (std::ostringstream() << std::hex << body.size()).str() + "\r\n" + body + "\r\n";
                requests.push_back(chunked + "0\r\nT: " + n + "\r\n\r\n");
                break;
            }
            case 2: requests.push_back("GET /g" + n + "?q=" + n + " HTTP/1.1\r\nHost: h\r\n\r\n"); break;
            default: requests.push_back("\r\nHEAD /h" + n + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"); break;
        }
    }
    return requests;
}

TEST(request_parser, keep_alive_requests_read_the_same_at_every_split_from_the_buffer_start) {
    const std::vector<std::string> requests = keep_alive_requests();
    std::vector<std::vector<std::string>> expected;
    std::size_t longest = 0;
    for (const std::string& r : requests) {
        expected.push_back(feed(r, {}));
        ASSERT_EQ(expected.back().size(), 2u) << r;
        ASSERT_EQ(expected.back()[1].find("failed"), std::string::npos) << r;
        longest = std::max(longest, r.size());
    }
    // Each request of the sequence cut at `cut` (one piece when it is
    // shorter), on one parser.
    for (std::size_t cut = 0; cut < longest; ++cut) {
        reader client;
        const char* buffer_start = nullptr;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const std::span<char> room = client.parser().free_space();
            if (buffer_start == nullptr) buffer_start = room.data();
            ASSERT_EQ(room.data(), buffer_start) << "request " << i << ", cut at " << cut;
            ASSERT_EQ(room.size(), limits::read_buffer_bytes);
            const std::string& r = requests[i];
            const std::size_t first = cut == 0 ? r.size() : std::min(cut, r.size());
            ASSERT_TRUE(client.send(std::string_view(r).substr(0, first)));
            ASSERT_TRUE(client.send(std::string_view(r).substr(first)));
            ASSERT_FALSE(client.parser().in_message()) << "request " << i << ", cut at " << cut;
            const std::vector<std::string>& t = client.transcript();
            ASSERT_EQ(t.size(), 2 * (i + 1));
            ASSERT_EQ(t[2 * i], expected[i][0]) << "request " << i << ", cut at " << cut;
            ASSERT_EQ(t[2 * i + 1], expected[i][1]) << "request " << i << ", cut at " << cut;
        }
    }
}

// One byte at a time, as a slow client sends: still the same.
TEST(request_parser, keep_alive_requests_read_the_same_byte_by_byte) {
    reader client;
    std::vector<std::string> expected;
    for (const std::string& r : keep_alive_requests()) {
        for (const std::string& line : feed(r, {})) expected.push_back(line);
        for (const char c : r) ASSERT_TRUE(client.send(std::string_view(&c, 1)));
    }
    EXPECT_EQ(client.transcript(), expected);
}

// The next request's first bytes arrive with the end of this one (at every
// length): they are kept, and the request after, sent alone, starts over.
TEST(request_parser, pipelined_bytes_after_a_message_are_kept_where_they_are) {
    const std::string a = put("/a?x=1", "alpha", "Authorization: Bearer a\r\n");
    const std::string b = "GET /b?y=2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer b\r\n\r\n";
    const std::string c = put("/c", std::string(300, 'c'));
    const std::string d = "POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nddd\r\n0\r\n\r\n";
    const std::vector<std::string> expected = feed(a + b + c + d, {});
    ASSERT_EQ(expected.size(), 8u);
    for (std::size_t k = 0; k <= b.size(); ++k) {
        for (const std::size_t c_split : {std::size_t(0), c.size() - 1}) {
            reader client;
            const char* buffer_start = client.parser().free_space().data();
            ASSERT_TRUE(client.send(a + b.substr(0, k)));
            ASSERT_TRUE(client.send(b.substr(k) + c.substr(0, c_split)));
            ASSERT_TRUE(client.send(c.substr(c_split)));
            ASSERT_EQ(client.parser().free_space().data(), buffer_start) << k;
            ASSERT_TRUE(client.send(d));
            ASSERT_EQ(client.transcript(), expected) << "the first " << k << " bytes of b with a, c split at " << c_split;
        }
    }
}

// A head whose read ended with it (nothing unparsed) stays put while its
// body arrives, though the whole free space is overwritten before each read.
TEST(request_parser, a_head_stays_put_while_its_body_arrives_into_scribbled_space) {
    const std::string before = "GET /before HTTP/1.1\r\nHost: h\r\n\r\n";
    for (const std::size_t body_bytes : {1u, 100u, 5000u, 40000u}) {
        for (const std::size_t piece : {1u, 7u, 1000u, 4096u}) {
            const std::string body(body_bytes, 'b');
            const std::string message = put("/k?q=v", body, "Authorization: Bearer tok\r\n");
            const std::size_t head_bytes = message.size() - body.size();
            reader client(limits::body_bytes_max, false, std::numeric_limits<std::size_t>::max());
            ASSERT_TRUE(client.send(before));
            ASSERT_TRUE(client.send(std::string_view(message).substr(0, head_bytes)));
            ASSERT_TRUE(client.parser().request_begun());
            for (std::size_t at = head_bytes; at < message.size(); at += piece) {
                ASSERT_TRUE(client.send(std::string_view(message).substr(at, piece)));
            }
            const std::vector<std::string>& t = client.transcript();
            ASSERT_EQ(t.size(), 4u);
            EXPECT_EQ(t[3], "3 /k?q=v path=/k query=q=v ct=text/plain auth=Bearer tok chunked=0 expect=0 keep=1 minor=1 cl=" +
                                std::to_string(body_bytes) + " body=" + body)
                << body_bytes << " in pieces of " << piece;
        }
    }
}

}  // namespace
}  // namespace ringkv::net::http
