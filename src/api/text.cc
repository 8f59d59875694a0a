#include "text.hh"

#include <ringkv/base/hex.hh>

#include <strings.h>

namespace ringkv::api {
namespace {

// A parameter name longer than this (decoded) is no name the API reads, so
// it is skipped without being decoded in full. Every parameter of the query
// is looked at: there is no cap on their number (a cap let a parameter
// placed after it slip past every check); the request target's own bound
// (limits::target_bytes_max) bounds the work.
constexpr std::size_t query_name_bytes_max = 64;

}  // namespace

std::optional<std::size_t> percent_decode(std::string_view text, std::span<char> out) {
    std::size_t written = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int high = base::hex_digit_value(text[i + 1]);
            const int low = base::hex_digit_value(text[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            c = char(high * 16 + low);
            i += 2;
        }
        if (written == out.size()) return std::nullopt;
        out[written++] = c;
    }
    return written;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t digit = std::uint64_t(c - '0');
        value = value > (UINT64_MAX - digit) / 10 ? UINT64_MAX : value * 10 + digit;
    }
    return value;
}

namespace {

// The raw (still percent-encoded) value of the first parameter named `name`;
// nullopt when absent. A parameter without '=' has an empty value.
std::optional<std::string_view> find_raw_query(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const std::size_t equals = pair.find('=');
        const std::string_view raw_name = pair.substr(0, equals);
        char name_buffer[query_name_bytes_max];
        const auto name_bytes = percent_decode(raw_name, name_buffer);
        if (!name_bytes || std::string_view(name_buffer, *name_bytes) != name) continue;
        return equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);  // the first wins
    }
    return std::nullopt;
}

}  // namespace

query_value find_query(std::string_view query, std::string_view name, std::span<char> storage) {
    query_value result;
    const auto raw_value = find_raw_query(query, name);
    if (!raw_value) return result;
    result.present = true;
    const auto value_bytes = percent_decode(*raw_value, storage);
    if (!value_bytes) {
        result.malformed = true;
        return result;
    }
    result.value = {storage.data(), *value_bytes};
    return result;
}

query_number find_query_decimal(std::string_view query, std::string_view name) {
    query_number result;
    const auto raw_value = find_raw_query(query, name);
    if (!raw_value) return result;
    result.present = true;
    const std::string_view text = *raw_value;
    if (text.empty()) return result;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {  // one escape, decoded once (as percent_decode does)
            if (i + 2 >= text.size()) return result;
            const int high = base::hex_digit_value(text[i + 1]);
            const int low = base::hex_digit_value(text[i + 2]);
            if (high < 0 || low < 0) return result;
            c = char(high * 16 + low);
            i += 2;
        }
        if (c < '0' || c > '9') return result;
        const std::uint64_t digit = std::uint64_t(c - '0');
        value = value > (UINT64_MAX - digit) / 10 ? UINT64_MAX : value * 10 + digit;  // saturates, as parse_decimal
    }
    result.value = value;
    return result;
}

void format_rfc3339(std::uint32_t seconds_since_epoch, char* out) {
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    const std::int64_t days = seconds_since_epoch / 86400;
    const std::uint32_t second_of_day = seconds_since_epoch % 86400;
    const std::int64_t z = days + 719468;
    const std::int64_t era = z / 146097;
    const std::uint32_t day_of_era = std::uint32_t(z - era * 146097);
    const std::uint32_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const std::uint32_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::uint32_t mp = (5 * day_of_year + 2) / 153;
    const std::uint32_t day = day_of_year - (153 * mp + 2) / 5 + 1;
    const std::uint32_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::uint32_t year = std::uint32_t(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
    const auto two = [](char* at, std::uint32_t v) {
        at[0] = char('0' + v / 10);
        at[1] = char('0' + v % 10);
    };
    two(out, year / 100);
    two(out + 2, year % 100);
    out[4] = '-';
    two(out + 5, month);
    out[7] = '-';
    two(out + 8, day);
    out[10] = 'T';
    two(out + 11, second_of_day / 3600);
    out[13] = ':';
    two(out + 14, second_of_day / 60 % 60);
    out[16] = ':';
    two(out + 17, second_of_day % 60);
    out[19] = 'Z';
}

std::string_view bearer_token(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer";
    if (authorization.size() <= scheme.size() ||
        strncasecmp(authorization.data(), scheme.data(), scheme.size()) != 0 ||
        (authorization[scheme.size()] != ' ' && authorization[scheme.size()] != '\t')) {
        return {};
    }
    std::string_view token = authorization.substr(scheme.size());
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    return token;
}

}  // namespace ringkv::api
