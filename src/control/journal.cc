#include <ringkv/control/journal.hh>

#include "names.hh"

#include <ringkv/base/decimal.hh>
#include <ringkv/base/json_string.hh>
#include <ringkv/base/secret.hh>
#include <ringkv/base/string_hash.hh>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace ringkv::control {

namespace {

// The fingerprint key: its own 128 random bits, not the hash-table secret,
// drawn before main() so every core uses the same.
const std::uint64_t fingerprint_key_0 = base::random_secret();
const std::uint64_t fingerprint_key_1 = base::random_secret();

void append_microseconds(std::string& out, std::uint64_t ns) { base::append_thousandths(out, ns); }

// "2026-11-27T08:30:01.123456Z"
void append_time(std::string& out, std::uint64_t wall_us) {
    const std::time_t seconds = std::time_t(wall_us / 1'000'000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const int n = std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", utc.tm_year + 1900,
                                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                                unsigned(wall_us % 1'000'000));
    out.append(text, std::size_t(n));
}

}  // namespace

std::uint32_t token_fingerprint(std::string_view token) {
    return std::uint32_t(base::siphash13(token, fingerprint_key_0, fingerprint_key_1) >> 32);
}

journal::journal(std::size_t entries, unsigned core) : _entries(entries), _core(core) {}

std::uint64_t journal::answered(const net::http::request_head* head, std::string_view token,
                                const net::http::exchange& done, std::uint64_t wall_us) {
    if (_entries.empty()) return 0;
    const std::uint64_t sequence = _next_sequence++;
    journal_entry& e = _entries[sequence % _entries.size()];
    e.sequence = sequence;
    e.wall_us = wall_us;
    e.duration_ns = 0;
    e.bytes_in = done.bytes_in;
    e.bytes_out = done.bytes_out;
    e.injected_delay_us = done.injected_delay_us;
    e.has_token = !token.empty();
    e.token_fingerprint = e.has_token ? token_fingerprint(token) : 0;
    e.status = done.status;
    e.core = std::uint16_t(_core);
    e.method = done.method;
    e.answered = done.status != 0;
    e.sent = false;
    const std::string_view path = head != nullptr ? head->path : std::string_view();
    e.path_bytes = std::uint16_t(std::min(path.size(), journal_entry::path_bytes_max));
    std::copy_n(path.data(), e.path_bytes, e.path);
    return sequence;
}

void journal::settled(std::uint64_t note, const net::http::exchange& done) {
    if (note == 0 || _entries.empty()) return;
    journal_entry& e = _entries[note % _entries.size()];
    if (e.sequence != note) return;  // overwritten since
    e.status = done.status;
    e.bytes_out = done.bytes_out;
    e.answered = true;
}

void journal::sent(std::uint64_t note, const net::http::exchange& done) {
    if (note == 0 || _entries.empty()) return;
    journal_entry& e = _entries[note % _entries.size()];
    if (e.sequence != note) return;  // overwritten since
    e.duration_ns = done.duration_ns;
    e.sent = true;
}

void journal::latest(std::size_t limit, std::vector<journal_entry>& out) const {
    if (_entries.empty()) return;
    const std::size_t written = std::size_t(_next_sequence - 1);
    const std::size_t kept = std::min(written, _entries.size());
    std::size_t listed = 0;
    for (std::size_t i = 0; i < kept && listed < limit; ++i) {
        const journal_entry& e = _entries[(_next_sequence - 1 - i) % _entries.size()];
        if (!e.answered) continue;  // a deferred answer not written yet
        out.push_back(e);
        ++listed;
    }
}

journal_query parse_journal_query(std::string_view query) {
    journal_query result;
    bool seen = false;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const std::size_t equals = pair.find('=');
        if (pair.substr(0, equals) != "limit") continue;
        if (seen || equals == std::string_view::npos) return {0, false};
        seen = true;
        const std::string_view digits = pair.substr(equals + 1);
        if (digits.empty()) return {0, false};
        // Saturates just past limit_max, so any number of digits is read
        // without overflow (the request target bounds the work).
        std::size_t value = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return {0, false};
            value = std::min<std::size_t>(value * 10 + std::size_t(c - '0'), journal_query::limit_max + 1);
        }
        if (value == 0) return {0, false};
        result.limit = std::min(value, journal_query::limit_max);
    }
    return result;
}

std::string render_journal(const std::vector<journal_entry>& entries, std::size_t journal_capacity, unsigned cores) {
    std::string out;
    out.reserve(64 + entries.size() * 320);
    out.append("{\"data\":[");
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const journal_entry& e = entries[i];
        if (i != 0) out.push_back(',');
        out.append("{\"time\":\"");
        append_time(out, e.wall_us);
        out.append("\",\"core\":");
        base::append_decimal(out, e.core);
        out.append(",\"method\":\"");
        out.append(method_name(e.method));
        out.append("\",\"path\":");
        base::append_json_string(out, e.path_view(), base::past_ascii::escaped);
        out.append(",\"status\":");
        base::append_decimal(out, e.status);
        out.append(",\"bytes_in\":");
        base::append_decimal(out, e.bytes_in);
        out.append(",\"bytes_out\":");
        base::append_decimal(out, e.bytes_out);
        out.append(",\"duration_us\":");
        if (e.sent) {
            append_microseconds(out, e.duration_ns);
        } else {
            out.append("null");  // still being sent
        }
        out.append(",\"injected_delay_us\":");
        base::append_decimal(out, e.injected_delay_us);
        out.append(",\"token\":");
        if (e.has_token) {
            char hex[11];
            std::snprintf(hex, sizeof(hex), "\"%08x\"", e.token_fingerprint);
            out.append(hex, 10);
        } else {
            out.append("null");
        }
        out.push_back('}');
    }
    out.append("],\"meta\":{\"returned\":");
    base::append_decimal(out, entries.size());
    out.append(",\"journal_entries_per_core\":");
    base::append_decimal(out, journal_capacity);
    out.append(",\"cores\":");
    base::append_decimal(out, cores);
    out.append("}}");
    return out;
}

}  // namespace ringkv::control
