#include "json.hh"

#include <ringkv/net/http/error_response.hh>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ringkv::control::json {
namespace {

class reader {
public:
    explicit reader(std::string_view text) : _text(text) {}

    bool document(value& out) {
        if (!read_value(out, 0)) return false;
        skip_space();
        if (_at != _text.size()) return fail("text after the JSON value");
        return true;
    }
    std::string error() const { return _error + " (at byte " + std::to_string(_at) + ")"; }

private:
    bool fail(std::string_view why) {
        if (_error.empty()) _error = why;
        return false;
    }
    void skip_space() {
        while (_at < _text.size() && (_text[_at] == ' ' || _text[_at] == '\t' || _text[_at] == '\n' || _text[_at] == '\r')) ++_at;
    }
    // Steps over `c` when it comes next.
    bool take(char c) {
        if (_at == _text.size() || _text[_at] != c) return false;
        ++_at;
        return true;
    }
    bool literal(std::string_view word) {
        if (_text.substr(_at, word.size()) != word) return fail("not a JSON value");
        _at += word.size();
        return true;
    }

    bool read_value(value& out, std::size_t depth) {
        if (++_values > values_max) return fail("more values than the reader takes");
        skip_space();
        if (_at == _text.size()) return fail("the text ends where a value should be");
        switch (_text[_at]) {
            case '{': return read_object(out, depth + 1);
            case '[': return read_array(out, depth + 1);
            case '"': out.type = type::string; return read_string(out.text);
            case 't': out.type = type::boolean; out.boolean = true; return literal("true");
            case 'f': out.type = type::boolean; out.boolean = false; return literal("false");
            case 'n': out.type = type::null; return literal("null");
            default: return read_number(out);
        }
    }

    bool read_object(value& out, std::size_t depth) {
        if (depth > depth_max) return fail("nested deeper than the reader takes");
        out.type = type::object;
        ++_at;
        skip_space();
        if (take('}')) return true;
        for (;;) {
            skip_space();
            std::string name;
            if (_at >= _text.size() || _text[_at] != '"') return fail("a member name must be a string");
            if (!read_string(name)) return false;
            skip_space();
            if (!take(':')) return fail("':' expected after a member name");
            value item;
            if (!read_value(item, depth)) return false;
            out.members.push_back({std::move(name), std::move(item)});
            skip_space();
            if (take(',')) continue;
            if (take('}')) return true;
            return fail("',' or '}' expected in an object");
        }
    }

    bool read_array(value& out, std::size_t depth) {
        if (depth > depth_max) return fail("nested deeper than the reader takes");
        out.type = type::array;
        ++_at;
        skip_space();
        if (take(']')) return true;
        for (;;) {
            value item;
            if (!read_value(item, depth)) return false;
            out.items.push_back(std::move(item));
            skip_space();
            if (take(',')) continue;
            if (take(']')) return true;
            return fail("',' or ']' expected in an array");
        }
    }

    // RFC 8259 section 6, checked by hand (from_chars alone would take
    // "01", "+1", ".5" or "1."), then converted.
    bool read_number(value& out) {
        const std::size_t start = _at;
        const auto digit = [this] { return _at < _text.size() && _text[_at] >= '0' && _text[_at] <= '9'; };
        take('-');
        if (!digit()) return fail("not a JSON value");
        if (_text[_at] == '0') {
            ++_at;
        } else {
            while (digit()) ++_at;
        }
        if (take('.')) {
            if (!digit()) return fail("a digit must follow the decimal point");
            while (digit()) ++_at;
        }
        if (take('e') || take('E')) {
            if (!take('+')) take('-');
            if (!digit()) return fail("a digit must follow the exponent");
            while (digit()) ++_at;
        }
        out.type = type::number;
        out.text.assign(_text.substr(start, _at - start));
        const auto [end, error] = std::from_chars(_text.data() + start, _text.data() + _at, out.number);
        (void)end;
        if (error == std::errc::result_out_of_range) out.number = beyond_a_double(out.text);
        return true;
    }

    // A number past a double's range, either way: too small, it reads as 0
    // (the nearest double, however it is written: 1e-400, 0.000...1, or
    // 0.0001e-330); too large, as infinity, which the decoders refuse like
    // any value out of bounds. Which way is told by the power of ten of its
    // first significant digit (negative: too small), since from_chars does
    // not say. `text` is a number read_number() checked.
    static double beyond_a_double(std::string_view text) {
        const bool negative = text[0] == '-';
        std::size_t i = negative ? 1 : 0;
        // The power of ten of the first significant digit, from the digits.
        std::int64_t power = 0;
        bool significant = false;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            significant |= text[i] != '0';
            if (significant) ++power;
        }
        --power;  // digits before the point: 3 of them is 10^2
        if (!significant && i < text.size() && text[i] == '.') {
            for (++i; i < text.size() && text[i] == '0'; ++i) --power;
            significant = i < text.size() && text[i] >= '1' && text[i] <= '9';
        }
        if (!significant) return 0.0;
        while (i < text.size() && text[i] != 'e' && text[i] != 'E') ++i;
        if (i < text.size()) {
            ++i;
            const bool exponent_negative = text[i] == '-';
            if (text[i] == '-' || text[i] == '+') ++i;
            // Saturated: past any double either way, however many digits.
            constexpr std::int64_t saturated = 1'000'000;
            std::int64_t exponent = 0;
            for (; i < text.size(); ++i) exponent = std::min(saturated, exponent * 10 + (text[i] - '0'));
            power += exponent_negative ? -exponent : exponent;
        }
        if (power < 0) return 0.0;
        return negative ? -HUGE_VAL : HUGE_VAL;
    }

    bool hex4(unsigned& code) {
        code = 0;
        for (int i = 0; i < 4; ++i) {
            if (_at >= _text.size()) return fail("the text ends inside a \\u escape");
            const char h = _text[_at++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') code |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= unsigned(h - 'A' + 10);
            else return fail("a \\u escape needs four hex digits");
        }
        return true;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out.push_back(char(code));
        } else if (code < 0x800) {
            out.push_back(char(0xc0 | (code >> 6)));
            out.push_back(char(0x80 | (code & 0x3f)));
        } else if (code < 0x10000) {
            out.push_back(char(0xe0 | (code >> 12)));
            out.push_back(char(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(char(0x80 | (code & 0x3f)));
        } else {
            out.push_back(char(0xf0 | (code >> 18)));
            out.push_back(char(0x80 | ((code >> 12) & 0x3f)));
            out.push_back(char(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(char(0x80 | (code & 0x3f)));
        }
    }

    // One UTF-8 sequence (RFC 3629: shortest form, no surrogates, at most
    // U+10FFFF) starting at _at; its length, or 0 when malformed.
    std::size_t utf8_length() const {
        const auto byte = [this](std::size_t i) { return static_cast<unsigned char>(_text[_at + i]); };
        const unsigned char lead = byte(0);
        std::size_t length = 0;
        unsigned code = 0;
        if (lead >= 0xc2 && lead <= 0xdf) length = 2, code = lead & 0x1f;
        else if (lead >= 0xe0 && lead <= 0xef) length = 3, code = lead & 0x0f;
        else if (lead >= 0xf0 && lead <= 0xf4) length = 4, code = lead & 0x07;
        else return 0;
        if (_text.size() - _at < length) return 0;
        for (std::size_t k = 1; k < length; ++k) {
            if ((byte(k) & 0xc0) != 0x80) return 0;
            code = (code << 6) | (byte(k) & 0x3f);
        }
        const unsigned smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
        if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
        return length;
    }

    bool read_string(std::string& out) {
        ++_at;  // the opening quote
        while (_at < _text.size()) {
            const auto c = static_cast<unsigned char>(_text[_at]);
            if (c >= 0x80) {
                const std::size_t length = utf8_length();
                if (length == 0) return fail("a string is not valid UTF-8");
                out.append(_text.substr(_at, length));
                _at += length;
                continue;
            }
            ++_at;
            if (c == '"') return true;
            if (c < 0x20) return fail("a control character inside a string");
            if (c != '\\') {
                out.push_back(char(c));
                continue;
            }
            if (_at >= _text.size()) break;
            const char e = _text[_at++];
            switch (e) {
                case '"': case '\\': case '/': out.push_back(e); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    unsigned code = 0;
                    if (!hex4(code)) return false;
                    if (code >= 0xdc00 && code <= 0xdfff) return fail("a lone low surrogate");
                    if (code >= 0xd800 && code <= 0xdbff) {
                        unsigned low = 0;
                        if (_text.substr(_at, 2) != "\\u") return fail("a high surrogate without its low half");
                        _at += 2;
                        if (!hex4(low)) return false;
                        if (low < 0xdc00 || low > 0xdfff) return fail("a high surrogate without its low half");
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    }
                    append_utf8(out, code);
                    break;
                }
                default: return fail("an unknown escape in a string");
            }
        }
        return fail("the text ends inside a string");
    }

    std::string_view _text;
    std::size_t _at = 0;
    std::size_t _values = 0;
    std::string _error;
};

}  // namespace

const value* value::find(std::string_view name) const {
    for (const auto& [key, member] : members) {
        if (key == name) return &member;
    }
    return nullptr;
}

std::optional<std::int64_t> value::integer() const {
    if (type != type::number || text.find_first_of(".eE") != std::string::npos) return std::nullopt;
    std::int64_t result = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return result;
}

parsed parse(std::string_view text) {
    parsed result;
    reader in(text);
    value root;
    if (in.document(root)) {
        result.root = std::move(root);
    } else {
        result.error = in.error();
    }
    return result;
}

void append_string(std::string& out, std::string_view text) { net::http::append_json_string(out, text); }

}  // namespace ringkv::control::json
