#pragma once
// The request journal (--journal N): the last N requests each core
// answered, in a ring of N entries allocated at start-up and overwritten
// oldest first, so it never grows (N x cores x ~330 bytes). Written only by
// its core: an entry when the response is written (the request's head is
// still readable), its duration when the response reaches the kernel.
// GET /_ringkv/requests reads every core's ring by message.
//
// Tokens are never kept: an entry holds a fingerprint, the first 32 bits of
// SipHash-1-3 of the bearer token under a key drawn at start-up (the same
// on every core, new per process). Without the key a fingerprint cannot be
// turned back into a token, not even a short one by trying them all; with
// it, a user who knows a token can find its requests (same token, same
// fingerprint, within one run).

#include <ringkv/net/http/handler.hh>
#include <ringkv/net/http/request.hh>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::control {

struct journal_entry {
    static constexpr std::size_t path_bytes_max = 256;

    std::uint64_t sequence = 0;  // 1, 2, ... per core; 0: never written
    std::uint64_t wall_us = 0;   // the head parsed, microseconds since 1970
    std::uint64_t duration_ns = 0;
    std::uint32_t bytes_in = 0;
    std::uint32_t bytes_out = 0;
    std::uint32_t injected_delay_us = 0;
    std::uint32_t token_fingerprint = 0;
    std::uint16_t status = 0;
    std::uint16_t path_bytes = 0;  // of path, cut at path_bytes_max
    std::uint16_t core = 0;
    net::http::method method = net::http::method::other;
    bool has_token = false;
    bool answered = false;  // the response was written: status and bytes_out are final
    bool sent = false;      // the response reached the kernel: duration_ns is final
    char path[path_bytes_max];

    std::string_view path_view() const { return {path, path_bytes}; }
};

// The fingerprint of a bearer token (see above).
std::uint32_t token_fingerprint(std::string_view token);

class journal {
public:
    // entries == 0: off (records nothing, holds nothing).
    journal(std::size_t entries, unsigned core);

    bool enabled() const { return !_entries.empty(); }
    std::size_t capacity() const { return _entries.size(); }

    // The response to a request was written. head: null when the request
    // was not valid HTTP; token: its bearer token, or empty. Returns the
    // note for settled() and sent(). A deferred answer (a pipelined batch;
    // done.status is 0) is noted now but listed only once settled().
    std::uint64_t answered(const net::http::request_head* head, std::string_view token,
                           const net::http::exchange& done, std::uint64_t wall_us);
    // A deferred answer was written: its status and size. An entry
    // overwritten meanwhile (the ring went round) is left alone, here and
    // in sent().
    void settled(std::uint64_t note, const net::http::exchange& done);
    // The response reached the kernel.
    void sent(std::uint64_t note, const net::http::exchange& done);

    // Up to `limit` answered entries, newest first, appended to `out`.
    void latest(std::size_t limit, std::vector<journal_entry>& out) const;

private:
    std::vector<journal_entry> _entries;  // sized once, at construction
    std::uint64_t _next_sequence = 1;
    unsigned _core;
};

// GET /_ringkv/requests?limit=N: limit must be plain decimal digits,
// 1 or more, given once; past limit_max it counts as limit_max. Other
// parameters are ignored.
struct journal_query {
    static constexpr std::size_t limit_default = 100;
    static constexpr std::size_t limit_max = 10'000;
    std::size_t limit = limit_default;
    bool valid = true;
};
journal_query parse_journal_query(std::string_view query);

// {"data":[...],"meta":{...}}: the entries (already newest first).
std::string render_journal(const std::vector<journal_entry>& entries, std::size_t journal_capacity,
                           unsigned cores);

}  // namespace ringkv::control
