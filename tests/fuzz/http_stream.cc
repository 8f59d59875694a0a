// The request stream of one connection, fed in pieces of random sizes.
//
// Input: [config 1][split seed 8][bytes of the connection...]
//   config bits 0-1: the body limit set at head time (0, 7, 1000, 1 MiB);
//   config bit 2: bodies of every method are accepted (else only PUT/POST,
//   the others discarded, as the API does).
// Oracles, checked on every request the parser hands out:
//   - no view given to the application (target, path, query, content_type,
//     authorization) holds CR, LF or another control character but HTAB;
//   - path and query are the parts of target around its first '?';
//   - the head's views at message_ready still read what they read at head_ready
//     (nothing moved under them while the body was read);
//   - an accepted body is at most the limit set (and the Content-Length when
//     there is one); a discarded body is empty;
//   - free_space() is never empty;
//   - before each read the free space past it is overwritten (up to
//     scribble_bytes), as a recv may write all of it: a view into that room
//     (the buffer reused under a head still in use) or a byte read past
//     those received changes what the parser reports;
//   - the same bytes fed as fast as the buffer takes them and fed in random
//     pieces give the same events, heads, bodies and failures.
#include "common.hh"

#include <ringkv/base/limits.hh>
#include <ringkv/net/http/request_parser.hh>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using ringkv::fuzz::finding;
using ringkv::fuzz::splitmix;
using ringkv::net::http::method;
using ringkv::net::http::request_head;
using ringkv::net::http::request_parser;
using event = request_parser::event;

constexpr std::array<std::size_t, 4> body_limits = {0, 7, 1000, ringkv::limits::body_bytes_max};
// Bytes of free space overwritten after each piece; bounded, so runs of
// one-byte pieces stay fast.
constexpr std::size_t scribble_bytes = 512;

// A head copied out of the parser's buffer.
struct head_copy {
    method verb = method::other;
    std::string target, path, query, content_type, authorization;
    std::optional<std::uint64_t> content_length;
    bool chunked = false, expect_continue = false, keep_alive = false;
    std::uint8_t version_minor = 0;

    explicit head_copy(const request_head& h)
        : verb(h.method), target(h.target), path(h.path), query(h.query), content_type(h.content_type),
          authorization(h.authorization), content_length(h.content_length), chunked(h.chunked),
          expect_continue(h.expect_continue), keep_alive(h.keep_alive), version_minor(h.version_minor) {}
    bool operator==(const head_copy&) const = default;
};

struct record {
    event what;
    std::optional<head_copy> head;
    std::string body;
    request_parser::failure error = request_parser::failure::none;
    bool operator==(const record&) const = default;
};

bool is_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
}

void check_view(std::string_view name, std::string_view view) {
    if (std::any_of(view.begin(), view.end(), is_control)) {
        finding("a control character in a view handed to the application", std::string(name) + "=" + std::string(view));
    }
}

void check_head(const request_head& h) {
    check_view("target", h.target);
    check_view("path", h.path);
    check_view("query", h.query);
    check_view("content_type", h.content_type);
    check_view("authorization", h.authorization);
    const std::size_t question = h.target.find('?');
    RINGKV_FUZZ_CHECK(h.path == h.target.substr(0, question), std::string(h.target));
    RINGKV_FUZZ_CHECK(h.query == (question == std::string_view::npos ? std::string_view{} : h.target.substr(question + 1)),
                      std::string(h.target));
    RINGKV_FUZZ_CHECK(!(h.chunked && h.content_length.has_value()));
}

struct settings {
    std::size_t body_limit;
    bool accept_every_body;
};

// Feeds `stream` through one parser, acting like a connection: at need_more
// it writes the next piece (its size from `piece_bytes`) into free_space().
template <typename PieceBytes>
std::vector<record> run(std::string_view stream, settings s, PieceBytes piece_bytes) {
    request_parser parser;
    std::vector<record> records;
    std::optional<head_copy> at_head;
    bool accepted = false;
    std::size_t given = 0;
    // Every event but need_more consumes input or ends a message; a parser
    // that reports more events than that is stuck.
    const std::size_t events_max = 2 * stream.size() + 16;
    for (std::size_t events = 0;; ++events) {
        if (events > events_max) finding("the parser reports events without progress");
        const event e = parser.next();
        switch (e) {
            case event::need_more: {
                if (given == stream.size()) return records;
                const std::span<char> room = parser.free_space();
                if (room.empty()) finding("free_space() is empty");
                const std::size_t n = std::min({room.size(), stream.size() - given, piece_bytes(room.size())});
                std::memset(room.data(), 'Z', n + std::min(scribble_bytes, room.size() - n));
                std::memcpy(room.data(), stream.data() + given, n);
                parser.received(n);
                given += n;
                break;
            }
            case event::head_ready: {
                check_head(parser.head());
                at_head.emplace(parser.head());
                accepted = s.accept_every_body || at_head->verb == method::put || at_head->verb == method::post;
                if (accepted) {
                    parser.accept_body(s.body_limit);
                } else {
                    parser.discard_body(s.body_limit);
                }
                records.push_back({e, at_head, {}, {}});
                break;
            }
            case event::message_ready: {
                if (!at_head) finding("message_ready without head_ready");
                const head_copy now(parser.head());
                if (!(now == *at_head)) {
                    finding("the head changed between head_ready and message_ready",
                            "was " + at_head->target + " ct=" + at_head->content_type + ", now " + now.target +
                                " ct=" + now.content_type);
                }
                const std::string& body = parser.body();
                if (!accepted && !body.empty()) finding("a discarded body was kept");
                if (body.size() > s.body_limit) finding("a body passed the limit set at head time");
                if (accepted && now.content_length && body.size() != *now.content_length) {
                    finding("the body is not Content-Length bytes long");
                }
                records.push_back({e, {}, body, {}});
                const bool keep_alive = at_head->keep_alive;
                at_head.reset();
                if (!keep_alive) return records;  // the connection stops reading here
                break;
            }
            case event::failed:
                records.push_back({e, {}, {}, parser.error()});
                return records;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    ringkv::fuzz::input_reader in(data, bytes);
    const std::uint8_t config = in.byte();
    const settings s{body_limits[config & 3], (config & 4) != 0};
    splitmix random(in.u64());
    const std::string_view stream = in.rest();

    const auto whole = run(stream, s, [](std::size_t room) { return room; });
    const auto pieces = run(stream, s, [&random](std::size_t room) -> std::size_t {
        const std::uint64_t r = random.next();
        switch (r & 3) {  // mostly small pieces, where cuts fall inside tokens
            case 0: return 1;
            case 1: return 1 + (r >> 8) % 8;
            case 2: return 1 + (r >> 8) % 300;
            default: return 1 + (r >> 8) % room;
        }
    });
    if (whole != pieces) {
        std::string detail = "whole: ";
        for (const record& r : whole) detail += std::to_string(int(r.what)) + " ";
        detail += "pieces: ";
        for (const record& r : pieces) detail += std::to_string(int(r.what)) + " ";
        finding("fed whole and fed in pieces, the stream parses differently", detail);
    }
    return 0;
}
