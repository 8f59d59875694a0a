// The JSON body of POST /v2/storage/kvs (src/api/json.hh).
//
// Input: [mode 1][bytes...]
//   mode 0: the bytes are the body. Oracles: deterministic; only an object
//     is kind::ok or duplicate_member (which names "/name" or "/ttl_support");
//     fields are set only then; whatever is not invalid_json is valid UTF-8
//     throughout (RFC 8259 section 8.1; checked against a reference decoder).
//   mode 1: the bytes are a name; it is written into a body with escapes
//     chosen by the input, and comes back exactly when it is valid UTF-8
//     (else the body is invalid_json).
//   mode 2: the bytes wrapped in deep nesting ("[[[...]]]" and
//     {"a":{"a":...}}), which must be refused past the bound.
#include "common.hh"

#include "api/json.hh"

#include <string>

namespace {

using namespace ringkv::api;
using ringkv::fuzz::input_reader;

// RFC 3629: shortest forms only, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t code = 0;
        if (lead < 0x80) {
            ++i;
            continue;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            length = 2, code = lead & 0x1f;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            length = 3, code = lead & 0x0f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            length = 4, code = lead & 0x07;
        } else {
            return false;
        }
        if (text.size() - i < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            if ((c & 0xc0) != 0x80) return false;
            code = (code << 6) | (c & 0x3f);
        }
        const std::uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
        if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
        i += length;
    }
    return true;
}

bool same(const create_body& a, const create_body& b) {
    return a.what == b.what && a.duplicate_member == b.duplicate_member && a.has_name == b.has_name && a.name_is_string == b.name_is_string && a.name == b.name &&
           a.has_ttl_support == b.has_ttl_support && a.ttl_support == b.ttl_support;
}

char first_non_blank(std::string_view text) {
    for (const char c : text) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
    }
    return '\0';
}

void check_body(std::string_view text) {
    const create_body body = parse_create_body(text);
    RINGKV_FUZZ_CHECK(same(body, parse_create_body(text)), "parse_create_body is not deterministic");
    if (body.what != create_body::kind::invalid_json) {
        RINGKV_FUZZ_CHECK(valid_utf8(text), "accepted JSON that is not UTF-8");
    }
    if (body.what == create_body::kind::duplicate_member) {
        RINGKV_FUZZ_CHECK(body.duplicate_member == "/name" || body.duplicate_member == "/ttl_support", text);
    } else {
        RINGKV_FUZZ_CHECK(body.duplicate_member.empty(), text);
    }
    if (body.what == create_body::kind::ok || body.what == create_body::kind::duplicate_member) {
        RINGKV_FUZZ_CHECK(first_non_blank(text) == '{', text);
        if (body.has_name) RINGKV_FUZZ_CHECK(text.find("\"") != std::string_view::npos);
        if (body.name_is_string) RINGKV_FUZZ_CHECK(body.has_name);
        if (body.ttl_support) RINGKV_FUZZ_CHECK(body.has_ttl_support);
    } else {
        if (body.what == create_body::kind::not_object) RINGKV_FUZZ_CHECK(first_non_blank(text) != '{', text);
        RINGKV_FUZZ_CHECK(!body.has_name && !body.name_is_string && body.name.empty() && !body.has_ttl_support &&
                              !body.ttl_support,
                          "fields set on a body that is not an accepted object");
    }
}

// JSON text for `name`, escaping per the input: control characters must be
// escaped; '"' and '\\' too; others may be.
std::string json_string(std::string_view name, input_reader& in) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        const std::uint8_t how = in.byte();
        const bool must = u < 0x20 || c == '"' || c == '\\';
        if (u < 0x80 && (must || (how & 1))) {
            switch (how >> 1 & 3) {
                case 0:
                    if (c == '"' || c == '\\' || c == '/') { out += '\\'; out += c; continue; }
                    if (c == '\n') { out += "\\n"; continue; }
                    if (c == '\t') { out += "\\t"; continue; }
                    if (c == '\r') { out += "\\r"; continue; }
                    if (c == '\b') { out += "\\b"; continue; }
                    if (c == '\f') { out += "\\f"; continue; }
                    break;
                default: break;
            }
            out += "\\u00";
            out += (how & 8) ? "0123456789ABCDEF"[u >> 4] : digits[u >> 4];
            out += (how & 16) ? "0123456789ABCDEF"[u & 15] : digits[u & 15];
        } else {
            out += c;  // bytes from 0x80 up pass as they are
        }
    }
    return out + "\"";
}

void check_name_round_trip(input_reader& in) {
    const std::uint8_t shape = in.byte();
    const std::string_view name = in.bytes(300);
    std::string body = (shape & 1) ? " {\n\t\"other\" : [1, {\"name\": 5, \"name\": 6}], \"name\":" : "{\"name\":";
    body += json_string(name, in);
    body += (shape & 2) ? ", \"ttl_support\": false }\r\n" : "}";
    const create_body parsed = parse_create_body(body);
    if (!valid_utf8(name)) {
        RINGKV_FUZZ_CHECK(parsed.what == create_body::kind::invalid_json, body);
        return;
    }
    RINGKV_FUZZ_CHECK(parsed.what == create_body::kind::ok, body);
    RINGKV_FUZZ_CHECK(parsed.has_name && parsed.name_is_string && parsed.name == name, body);
    if (shape & 2) RINGKV_FUZZ_CHECK(parsed.has_ttl_support && parsed.ttl_support == false, body);
}

void check_deep(input_reader& in) {
    const std::size_t depth = in.u16() % 5000;
    const bool objects = in.byte() & 1;
    const std::string_view inner = in.rest();
    std::string body;
    for (std::size_t i = 0; i < depth; ++i) body += objects ? "{\"a\":" : "[";
    body += inner.empty() ? std::string_view("1") : inner;
    for (std::size_t i = 0; i < depth; ++i) body += objects ? "}" : "]";
    check_body(body);
    // Past the bound the body is refused whatever the innermost text.
    if (depth > std::size_t(json_depth_max) + 1) {
        RINGKV_FUZZ_CHECK(parse_create_body(body).what == create_body::kind::invalid_json, "nesting past the bound");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    switch (in.choose(3)) {
        case 0: check_body(in.rest()); break;
        case 1: check_name_round_trip(in); break;
        default: check_deep(in); break;
    }
    return 0;
}
