// The request journal (src/control/journal.cc): the ?limit= decoder of
// GET /_ringkv/requests against a plain reference, and the ring itself
// under any sequence of answers, sends and reads, rendered as JSON each
// time: it never holds more than its capacity, keeps at most 256 bytes of a
// path, and renders printable ASCII only, whatever bytes a path held.
//
// Input: [selector 1][operation's bytes...]
#include "common.hh"

#include <ringkv/control/journal.hh>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace ringkv::control;
using ringkv::fuzz::input_reader;

// Written from the route's documentation: pairs split on '&'; the name
// compared as is; `limit` at most once, plain digits, at least 1; clamped
// to limit_max.
journal_query reference_query(std::string_view query) {
    journal_query result;
    int seen = 0;
    std::size_t start = 0;
    while (start < query.size()) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view pair = query.substr(start, amp - start);
        start = amp + 1;
        const std::size_t equals = pair.find('=');
        if (pair.substr(0, equals) != "limit") continue;
        if (++seen > 1 || equals == std::string_view::npos) return {0, false};
        const std::string_view digits = pair.substr(equals + 1);
        if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return {0, false};
        }
        const std::string_view significant = digits.substr(std::min(digits.find_first_not_of('0'), digits.size()));
        if (significant.empty()) return {0, false};
        result.limit = significant.size() > 5 ? journal_query::limit_max
                                              : std::min<std::size_t>(std::stoul(std::string(significant)),
                                                                      journal_query::limit_max);
    }
    return result;
}

void check_query(input_reader& in) {
    const std::string_view query = in.rest();
    const journal_query got = parse_journal_query(query);
    const journal_query expected = reference_query(query);
    RINGKV_FUZZ_CHECK(got.valid == expected.valid, query);
    if (got.valid) RINGKV_FUZZ_CHECK(got.limit == expected.limit && got.limit >= 1, query);
}

void check_ring(input_reader& in) {
    const std::size_t capacity = in.choose(9);  // 0: off
    journal ring(capacity, 3);
    std::vector<std::uint64_t> notes;
    std::vector<std::string> paths;  // kept alive while a head views them
    while (!in.empty()) {
        switch (in.choose(3)) {
            case 0: {
                paths.emplace_back(in.bytes(400));
                ringkv::net::http::request_head head;
                head.path = paths.back();
                ringkv::net::http::exchange done;
                done.status = in.u16();
                done.bytes_in = in.u32();
                const std::string_view token = in.bytes(40);
                notes.push_back(ring.answered(in.choose(4) == 0 ? nullptr : &head, token, done, in.u64() >> 8));
                break;
            }
            case 1:
                if (!notes.empty()) {
                    ringkv::net::http::exchange done;
                    const std::uint64_t note = notes[in.choose(notes.size())];
                    if (in.choose(2) == 0) {  // a deferred answer is written
                        done.status = std::uint16_t(1 + in.u16() % 999);
                        done.bytes_out = in.u32();
                        ring.settled(note, done);
                    } else {
                        done.duration_ns = in.u32();
                        ring.sent(note, done);
                    }
                }
                break;
            default: {
                std::vector<journal_entry> entries;
                const std::size_t limit = in.choose(12);
                ring.latest(limit, entries);
                RINGKV_FUZZ_CHECK(entries.size() <= std::min(limit, capacity));
                RINGKV_FUZZ_CHECK(entries.size() <= notes.size());
                for (std::size_t i = 0; i < entries.size(); ++i) {
                    RINGKV_FUZZ_CHECK(entries[i].path_bytes <= journal_entry::path_bytes_max);
                    // Newest first; deferred answers not yet written (status 0) are left out.
                    RINGKV_FUZZ_CHECK(entries[i].answered && entries[i].status != 0);
                    RINGKV_FUZZ_CHECK(i == 0 || entries[i].sequence < entries[i - 1].sequence);
                }
                const std::string json = render_journal(entries, capacity, 4);
                for (const char c : json) {
                    RINGKV_FUZZ_CHECK(c >= 0x20 && c < 0x7f, json);
                }
                RINGKV_FUZZ_CHECK(json.starts_with("{\"data\":[") && json.ends_with("}}"), json);
                break;
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    if (in.choose(2) == 0) {
        check_query(in);
    } else {
        check_ring(in);
    }
    return 0;
}
