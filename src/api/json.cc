#include "json.hh"

namespace ringkv::api {
namespace {

class reader {
public:
    explicit reader(std::string_view text) : _text(text) {}

    void skip_space() {
        while (_at < _text.size() && (_text[_at] == ' ' || _text[_at] == '\t' || _text[_at] == '\n' || _text[_at] == '\r')) ++_at;
    }
    bool done() {
        skip_space();
        return _at == _text.size();
    }
    char peek() {
        skip_space();
        return _at < _text.size() ? _text[_at] : '\0';
    }
    bool literal(std::string_view word) {
        if (_text.substr(_at, word.size()) != word) return false;
        _at += word.size();
        return true;
    }

    // A string; its decoded text goes to `out` when given. Raw bytes must be
    // UTF-8 (RFC 8259 section 8.1): anything else is invalid JSON.
    bool string(std::string* out) {
        if (peek() != '"') return false;
        ++_at;
        while (_at < _text.size()) {
            const auto c = static_cast<unsigned char>(_text[_at]);
            if (c >= 0x80) {
                const std::size_t length = utf8_sequence_bytes(_text.substr(_at));
                if (length == 0) return false;
                if (out) out->append(_text.substr(_at, length));
                _at += length;
                continue;
            }
            ++_at;
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') {
                if (out) out->push_back(char(c));
                continue;
            }
            if (_at >= _text.size()) return false;
            const char e = _text[_at++];
            switch (e) {
                case '"': case '\\': case '/': if (out) out->push_back(e); break;
                case 'b': if (out) out->push_back('\b'); break;
                case 'f': if (out) out->push_back('\f'); break;
                case 'n': if (out) out->push_back('\n'); break;
                case 'r': if (out) out->push_back('\r'); break;
                case 't': if (out) out->push_back('\t'); break;
                case 'u': {
                    unsigned code = 0;
                    for (int i = 0; i < 4; ++i) {
                        if (_at >= _text.size()) return false;
                        const char h = _text[_at++];
                        code <<= 4;
                        if (h >= '0' && h <= '9') code |= unsigned(h - '0');
                        else if (h >= 'a' && h <= 'f') code |= unsigned(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F') code |= unsigned(h - 'A' + 10);
                        else return false;
                    }
                    // Names are ASCII; anything else makes the name invalid later.
                    if (out) out->push_back(code < 0x80 ? char(code) : '\x7f');
                    break;
                }
                default: return false;
            }
        }
        return false;
    }

    bool number() {
        const std::size_t start = _at;
        if (_at < _text.size() && _text[_at] == '-') ++_at;
        if (_at >= _text.size()) return false;
        if (_text[_at] == '0') {
            ++_at;
        } else if (_text[_at] >= '1' && _text[_at] <= '9') {
            while (_at < _text.size() && isdigit(_text[_at])) ++_at;
        } else {
            return false;
        }
        if (_at < _text.size() && _text[_at] == '.') {
            ++_at;
            if (_at >= _text.size() || !isdigit(_text[_at])) return false;
            while (_at < _text.size() && isdigit(_text[_at])) ++_at;
        }
        if (_at < _text.size() && (_text[_at] == 'e' || _text[_at] == 'E')) {
            ++_at;
            if (_at < _text.size() && (_text[_at] == '+' || _text[_at] == '-')) ++_at;
            if (_at >= _text.size() || !isdigit(_text[_at])) return false;
            while (_at < _text.size() && isdigit(_text[_at])) ++_at;
        }
        return _at > start;
    }

    bool value(int depth) {
        if (depth > json_depth_max) return false;
        switch (peek()) {
            case '{': return object(depth, nullptr);
            case '[': return array(depth);
            case '"': return string(nullptr);
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default: return number();
        }
    }

    bool array(int depth) {
        ++_at;  // '['
        if (peek() == ']') {
            ++_at;
            return true;
        }
        for (;;) {
            if (!value(depth + 1)) return false;
            const char c = peek();
            ++_at;
            if (c == ']') return true;
            if (c != ',') return false;
        }
    }

    // An object; with `body`, its top-level members of interest are recorded.
    bool object(int depth, create_body* body) {
        ++_at;  // '{'
        if (peek() == '}') {
            ++_at;
            return true;
        }
        for (;;) {
            // Member names matter only at the top level; below it they are
            // validated, not built.
            std::string name;
            if (!string(body != nullptr ? &name : nullptr)) return false;
            if (peek() != ':') return false;
            ++_at;
            if (body != nullptr && (name == "name" || name == "ttl_support")) {
                bool& seen = name == "name" ? _seen_name : _seen_ttl_support;
                // RFC 8259 leaves duplicate names to the reader; this one
                // refuses them rather than pick one silently (422).
                if (seen && body->duplicate_member.empty()) body->duplicate_member = name == "name" ? "/name" : "/ttl_support";
                seen = true;
            }
            if (body != nullptr && name == "name" && peek() == '"') {
                std::string decoded;
                if (!string(&decoded)) return false;
                body->has_name = true;
                body->name_is_string = true;
                body->name = std::move(decoded);
            } else if (body != nullptr && name == "ttl_support" && (peek() == 't' || peek() == 'f')) {
                const bool on = peek() == 't';
                if (!literal(on ? "true" : "false")) return false;
                body->has_ttl_support = true;
                body->ttl_support = on;
            } else {
                if (body != nullptr && name == "name") body->has_name = true, body->name_is_string = false;
                if (body != nullptr && name == "ttl_support") body->has_ttl_support = true, body->ttl_support.reset();
                if (!value(depth + 1)) return false;
            }
            const char c = peek();
            ++_at;
            if (c == '}') return true;
            if (c != ',') return false;
        }
    }

private:
    static bool isdigit(char c) { return c >= '0' && c <= '9'; }

    // The length of the well-formed UTF-8 sequence (of 2 to 4 bytes) that
    // starts `text`, or 0: no overlong forms, no surrogates, nothing past
    // U+10FFFF (the table of Unicode's section 3.9, D92).
    static std::size_t utf8_sequence_bytes(std::string_view text) {
        const auto byte = [&](std::size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
        const unsigned lead = byte(0);
        const auto continuation = [&](std::size_t i, unsigned low = 0x80, unsigned high = 0xbf) {
            return byte(i) >= low && byte(i) <= high;
        };
        if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
        if (lead == 0xe0) return continuation(1, 0xa0) && continuation(2) ? 3 : 0;
        if ((lead >= 0xe1 && lead <= 0xec) || lead == 0xee || lead == 0xef) return continuation(1) && continuation(2) ? 3 : 0;
        if (lead == 0xed) return continuation(1, 0x80, 0x9f) && continuation(2) ? 3 : 0;
        if (lead == 0xf0) return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0;
        if (lead >= 0xf1 && lead <= 0xf3) return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
        if (lead == 0xf4) return continuation(1, 0x80, 0x8f) && continuation(2) && continuation(3) ? 4 : 0;
        return 0;
    }

    std::string_view _text;
    std::size_t _at = 0;
    bool _seen_name = false;
    bool _seen_ttl_support = false;
};

}  // namespace

create_body parse_create_body(std::string_view text) {
    create_body body;
    reader r(text);
    const bool is_object = r.peek() == '{';
    const bool ok = is_object ? r.object(0, &body) : r.value(0);
    if (!ok || !r.done()) {
        body = create_body{};
        body.what = create_body::kind::invalid_json;
        return body;
    }
    body.what = !is_object ? create_body::kind::not_object
                : !body.duplicate_member.empty() ? create_body::kind::duplicate_member
                : create_body::kind::ok;
    return body;
}

}  // namespace ringkv::api
