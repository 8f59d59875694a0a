#include "rules_json.hh"

#include "names.hh"

#include <charconv>
#include <cmath>
#include <initializer_list>

namespace ringkv::control {
namespace {

using json::type;
using json::value;

// Integers a rule takes are at most 2^53, so they survive a round trip
// through any JSON reader (IEEE doubles).
constexpr std::int64_t integer_max = std::int64_t(1) << 53;

class decoder {
public:
    explicit decoder(std::string pointer) : _pointer(std::move(pointer)) {}

    std::optional<field_error> error;

    bool fail(const std::string& where, std::string detail) {
        if (!error) error = field_error{where, std::move(detail)};
        return false;
    }

    // The object at `where` has only `known` members, each at most once.
    bool members(const value& object, const std::string& where, std::initializer_list<std::string_view> known) {
        if (object.type != type::object) return fail(where, "must be a JSON object");
        for (std::size_t i = 0; i < object.members.size(); ++i) {
            const std::string& name = object.members[i].first;
            bool is_known = false;
            for (const std::string_view k : known) is_known |= k == name;
            if (!is_known) return fail(where + "/" + escape(name), "unknown field '" + name + "'");
            for (std::size_t j = 0; j < i; ++j) {
                if (object.members[j].first == name) return fail(where + "/" + escape(name), "the field is given twice");
            }
        }
        return true;
    }

    // A member that is present and not null.
    static const value* given(const value& object, std::string_view name) {
        const value* v = object.find(name);
        return v == nullptr || v->type == type::null ? nullptr : v;
    }

    bool number(const value& v, const std::string& where, double low, double high, double& out) {
        if (v.type != type::number || !std::isfinite(v.number)) return fail(where, "must be a number");
        if (v.number < low || v.number > high) {
            return fail(where, "must be from " + format(low) + " to " + format(high));
        }
        out = v.number;
        return true;
    }

    bool integer(const value& v, const std::string& where, std::int64_t low, std::int64_t high, std::int64_t& out) {
        const std::optional<std::int64_t> n = v.integer();
        if (!n || *n < low || *n > high) {
            return fail(where, "must be an integer from " + std::to_string(low) + " to " + std::to_string(high));
        }
        out = *n;
        return true;
    }

    bool text(const value& v, const std::string& where, std::size_t bytes_max, std::string& out) {
        if (v.type != type::string) return fail(where, "must be a string");
        if (v.text.empty() || v.text.size() > bytes_max) {
            return fail(where, "must be 1 to " + std::to_string(bytes_max) + " bytes long");
        }
        for (const char c : v.text) {
            const auto byte = static_cast<unsigned char>(c);
            if (byte < 0x20 || byte == 0x7f) return fail(where, "must not hold control characters");
        }
        out = v.text;
        return true;
    }

    // A JSON pointer token: '~' and '/' escaped (RFC 6901).
    static std::string escape(std::string_view name) {
        std::string out;
        for (const char c : name) {
            if (c == '~') out += "~0";
            else if (c == '/') out += "~1";
            else out += c;
        }
        return out;
    }
    // A bound as people write it: a whole number as an integer (600000, not
    // the shortest form 6e+05), any other in its shortest form (0.5).
    static std::string format(double x) {
        char digits[32];
        const bool whole = x == std::trunc(x) && std::fabs(x) <= double(integer_max);
        const auto end = whole ? std::to_chars(digits, digits + sizeof(digits), std::int64_t(x)).ptr
                               : std::to_chars(digits, digits + sizeof(digits), x).ptr;
        return std::string(digits, end);
    }

    bool match(const value& v, const std::string& where, match_spec& out);
    bool latency(const value& v, const std::string& where, latency_spec& out);
    bool fault(const value& v, const std::string& where, fault_spec& out);
    bool rate_limit(const value& v, const std::string& where, rate_limit_spec& out);
    bool rule(const value& v, rule_spec& out);

private:
    std::string _pointer;
};

// The methods a rule may name.
constexpr net::http::method steerable_methods[] = {net::http::method::get, net::http::method::head,
                                                   net::http::method::post, net::http::method::put,
                                                   net::http::method::delete_};

std::optional<net::http::method> method_from_name(std::string_view name) {
    for (const net::http::method m : steerable_methods) {
        if (method_name(m) == name) return m;
    }
    return std::nullopt;
}

// "a, b or c" (or_last) or "a, b, c", of the names given.
template <typename Names, typename Name>
std::string listed(const Names& names, Name name, bool or_last) {
    std::string out;
    for (std::size_t i = 0; i < std::size(names); ++i) {
        if (i > 0) out += or_last && i + 1 == std::size(names) ? " or " : ", ";
        out += name(names[i]);
    }
    return out;
}

bool decoder::match(const value& v, const std::string& where, match_spec& out) {
    if (!members(v, where, {"route", "method", "token", "namespace", "key_prefix"})) return false;
    std::string word;
    if (const value* route = given(v, "route")) {
        if (!text(*route, where + "/route", 64, word)) return false;
        out.route = route_from_name(word);
        if (!out.route) {
            return fail(where + "/route", "must be one of " + listed(steerable_routes, route_name, false));
        }
    }
    if (const value* method = given(v, "method")) {
        if (!text(*method, where + "/method", 16, word)) return false;
        out.method = method_from_name(word);
        if (!out.method) return fail(where + "/method", "must be " + listed(steerable_methods, method_name, true));
    }
    if (const value* token = given(v, "token")) {
        std::string t;
        if (!text(*token, where + "/token", token_bytes_max, t)) return false;
        out.token = std::move(t);
    }
    if (const value* id = given(v, "namespace")) {
        if (!text(*id, where + "/namespace", 64, word)) return false;
        out.namespace_id = store::uuid::parse(word);
        if (!out.namespace_id) return fail(where + "/namespace", "must be a namespace id (a UUID)");
    }
    if (const value* prefix = given(v, "key_prefix")) {
        std::string p;
        if (!text(*prefix, where + "/key_prefix", key_prefix_bytes_max, p)) return false;
        out.key_prefix = std::move(p);
    }
    return true;
}

bool decoder::latency(const value& v, const std::string& where, latency_spec& out) {
    const value* kind = v.type == type::object ? given(v, "distribution") : nullptr;
    if (v.type != type::object) return fail(where, "must be a JSON object");
    std::string name;
    if (kind == nullptr) return fail(where + "/distribution", "is required: fixed, uniform, normal, lognormal or pareto");
    if (!text(*kind, where + "/distribution", 16, name)) return false;
    const double most = double(delay_ms_max);
    // Each distribution takes its own fields and no others.
    const auto field = [&](std::string_view member, double low, double& into) {
        const value* x = v.find(member);
        if (x == nullptr) return fail(where + "/" + std::string(member), "is required for the " + name + " distribution");
        return number(*x, where + "/" + std::string(member), low, most, into);
    };
    if (name == "fixed") {
        out.distribution = distribution::fixed;
        return members(v, where, {"distribution", "ms"}) && field("ms", 0, out.ms);
    }
    if (name == "uniform") {
        out.distribution = distribution::uniform;
        if (!members(v, where, {"distribution", "min_ms", "max_ms"}) || !field("min_ms", 0, out.min_ms) ||
            !field("max_ms", 0, out.max_ms)) {
            return false;
        }
        return out.max_ms >= out.min_ms || fail(where + "/max_ms", "must not be below min_ms");
    }
    if (name == "normal") {
        out.distribution = distribution::normal;
        return members(v, where, {"distribution", "mean_ms", "stddev_ms"}) && field("mean_ms", 0, out.mean_ms) &&
               field("stddev_ms", 0, out.stddev_ms);
    }
    if (name == "lognormal") {
        out.distribution = distribution::lognormal;
        if (!members(v, where, {"distribution", "median_ms", "p99_ms"}) || !field("median_ms", 0, out.median_ms) ||
            !field("p99_ms", 0, out.p99_ms)) {
            return false;
        }
        if (!(out.median_ms > 0)) return fail(where + "/median_ms", "must be above 0");
        return out.p99_ms >= out.median_ms || fail(where + "/p99_ms", "must not be below median_ms");
    }
    if (name == "pareto") {
        out.distribution = distribution::pareto;
        if (!members(v, where, {"distribution", "scale_ms", "shape"}) || !field("scale_ms", 0, out.scale_ms)) return false;
        const value* shape = v.find("shape");
        if (shape == nullptr) return fail(where + "/shape", "is required for the pareto distribution");
        if (!number(*shape, where + "/shape", 0, 1000, out.shape)) return false;
        if (!(out.scale_ms > 0)) return fail(where + "/scale_ms", "must be above 0");
        return out.shape > 0 || fail(where + "/shape", "must be above 0");
    }
    return fail(where + "/distribution", "must be fixed, uniform, normal, lognormal or pareto");
}

bool decoder::fault(const value& v, const std::string& where, fault_spec& out) {
    const value* kind = v.type == type::object ? given(v, "kind") : nullptr;
    if (v.type != type::object) return fail(where, "must be a JSON object");
    if (kind == nullptr) return fail(where + "/kind", "is required: status, reset, close, hang, dribble or truncate");
    std::string name;
    if (!text(*kind, where + "/kind", 16, name)) return false;
    std::string when = "before";
    const auto read_when = [&](bool before_allowed) {
        const value* w = given(v, "when");
        if (w == nullptr) return true;
        if (!text(*w, where + "/when", 16, when)) return false;
        if (when != "before" && when != "after") return fail(where + "/when", "must be before or after");
        if (when == "before" && !before_allowed) {
            return fail(where + "/when", "must be after: " + name + " delivers the operation's own answer");
        }
        return true;
    };
    if (name == "status") {
        out.kind = fault_kind::status;
        if (!members(v, where, {"kind", "status", "code", "detail", "when"}) || !read_when(true)) return false;
        const value* status = v.find("status");
        if (status == nullptr) return fail(where + "/status", "is required for a status fault");
        std::int64_t n = 0;
        if (!integer(*status, where + "/status", 400, 599, n)) return false;
        out.status = int(n);
        if (const value* code = given(v, "code")) {
            if (!integer(*code, where + "/code", 1, 99999, n)) return false;
            out.code = std::uint32_t(n);
        }
        if (const value* detail = given(v, "detail")) {
            if (!text(*detail, where + "/detail", detail_bytes_max, out.detail)) return false;
        }
    } else if (name == "reset" || name == "close" || name == "hang") {
        out.kind = name == "reset" ? fault_kind::reset : name == "close" ? fault_kind::close : fault_kind::hang;
        if (!members(v, where, {"kind", "when"}) || !read_when(true)) return false;
    } else if (name == "dribble") {
        out.kind = fault_kind::dribble;
        when = "after";
        if (!members(v, where, {"kind", "bytes_per_second", "when"}) || !read_when(false)) return false;
        const value* rate = v.find("bytes_per_second");
        if (rate == nullptr) return fail(where + "/bytes_per_second", "is required for a dribble fault");
        std::int64_t n = 0;
        if (!integer(*rate, where + "/bytes_per_second", 1, 1'000'000'000, n)) return false;
        out.bytes_per_second = std::uint32_t(n);
    } else if (name == "truncate") {
        out.kind = fault_kind::truncate;
        when = "after";
        if (!members(v, where, {"kind", "when"}) || !read_when(false)) return false;
    } else {
        return fail(where + "/kind", "must be status, reset, close, hang, dribble or truncate");
    }
    out.after = when == "after";
    return true;
}

bool decoder::rate_limit(const value& v, const std::string& where, rate_limit_spec& out) {
    if (!members(v, where, {"requests", "per_ms", "burst"})) return false;
    std::int64_t n = 0;
    const value* requests = v.find("requests");
    if (requests == nullptr) return fail(where + "/requests", "is required");
    if (!integer(*requests, where + "/requests", 1, 1'000'000'000, n)) return false;
    out.requests = std::uint64_t(n);
    const value* per = v.find("per_ms");
    if (per == nullptr) return fail(where + "/per_ms", "is required");
    if (!integer(*per, where + "/per_ms", 1, 86'400'000, n)) return false;
    out.per_ms = std::uint64_t(n);
    out.burst = out.requests;
    if (const value* burst = given(v, "burst")) {
        if (!integer(*burst, where + "/burst", 1, 1'000'000'000, n)) return false;
        out.burst = std::uint64_t(n);
    }
    return true;
}

bool decoder::rule(const value& v, rule_spec& out) {
    const std::string& at = _pointer;
    if (!members(v, at, {"name", "match", "probability", "latency", "fault", "rate_limit", "expires_after_ms", "seed"})) {
        return false;
    }
    if (const value* name = given(v, "name")) {
        if (!text(*name, at + "/name", name_bytes_max, out.name)) return false;
    }
    if (const value* m = given(v, "match")) {
        if (!match(*m, at + "/match", out.match)) return false;
    }
    if (const value* p = given(v, "probability")) {
        if (!number(*p, at + "/probability", 0, 1, out.probability)) return false;
    }
    if (const value* l = given(v, "latency")) {
        if (!latency(*l, at + "/latency", out.latency)) return false;
    }
    if (const value* f = given(v, "fault")) {
        if (!fault(*f, at + "/fault", out.fault)) return false;
    }
    if (const value* r = given(v, "rate_limit")) {
        if (!rate_limit(*r, at + "/rate_limit", out.rate_limit)) return false;
    }
    std::int64_t n = 0;
    if (const value* e = given(v, "expires_after_ms")) {
        if (!integer(*e, at + "/expires_after_ms", 1, integer_max, n)) return false;
        out.expires_after_ms = std::uint64_t(n);
    }
    if (const value* s = given(v, "seed")) {
        if (!integer(*s, at + "/seed", 0, integer_max, n)) return false;
        out.seed = std::uint64_t(n);
    }
    return true;
}

void append_number(std::string& out, double x) {
    char digits[32];
    const auto end = std::to_chars(digits, digits + sizeof(digits), x).ptr;
    out.append(digits, end);
}

void append_number(std::string& out, std::uint64_t x) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), x).ptr;
    out.append(digits, end);
}

void append_member(std::string& out, std::string_view name, double x) {
    out += ",\"";
    out += name;
    out += "\":";
    append_number(out, x);
}

void encode_latency(const latency_spec& l, std::string& out) {
    out += R"({"distribution":)";
    json::append_string(out, distribution_name(l.distribution));
    switch (l.distribution) {
        case distribution::none: break;
        case distribution::fixed: append_member(out, "ms", l.ms); break;
        case distribution::uniform: append_member(out, "min_ms", l.min_ms); append_member(out, "max_ms", l.max_ms); break;
        case distribution::normal: append_member(out, "mean_ms", l.mean_ms); append_member(out, "stddev_ms", l.stddev_ms); break;
        case distribution::lognormal: append_member(out, "median_ms", l.median_ms); append_member(out, "p99_ms", l.p99_ms); break;
        case distribution::pareto: append_member(out, "scale_ms", l.scale_ms); append_member(out, "shape", l.shape); break;
    }
    out += '}';
}

void encode_fault(const fault_spec& f, std::string& out) {
    out += R"({"kind":)";
    json::append_string(out, fault_name(f.kind));
    out += R"(,"when":)";
    out += f.after ? R"("after")" : R"("before")";
    if (f.kind == fault_kind::status) {
        append_member(out, "status", double(f.status));
        if (f.code != 0) append_member(out, "code", double(f.code));
        if (!f.detail.empty()) {
            out += R"(,"detail":)";
            json::append_string(out, f.detail);
        }
    }
    if (f.kind == fault_kind::dribble) append_member(out, "bytes_per_second", double(f.bytes_per_second));
    out += '}';
}

}  // namespace

std::variant<rule_spec, field_error> decode_rule(const json::value& rule, const std::string& pointer) {
    decoder d(pointer);
    rule_spec out;
    if (!d.rule(rule, out)) return *d.error;
    return out;
}

std::variant<std::vector<rule_spec>, field_error> decode_rules(const json::value& root) {
    if (root.type != type::array) return field_error{"", "the body must be a JSON array of rules"};
    if (root.items.size() > rules_max) {
        return field_error{"", "at most " + std::to_string(rules_max) + " rules are taken"};
    }
    std::vector<rule_spec> rules;
    rules.reserve(root.items.size());
    for (std::size_t i = 0; i < root.items.size(); ++i) {
        std::string pointer(1, '/');
        pointer += std::to_string(i);  // (not "/" + ...: GCC 12 bug 105329 warns on it)
        auto one = decode_rule(root.items[i], pointer);
        if (auto* e = std::get_if<field_error>(&one)) return std::move(*e);
        rules.push_back(std::move(std::get<rule_spec>(one)));
    }
    return rules;
}

void encode_rule(const rule_spec& rule, const rule_counters& counted, std::uint64_t now_ms, std::string& out) {
    out += R"({"name":)";
    if (rule.name.empty()) out += "null"; else json::append_string(out, rule.name);
    out += R"(,"match":{)";
    bool first = true;
    const auto member = [&](std::string_view name, std::string_view text) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, name);
        out += ':';
        json::append_string(out, text);
    };
    const match_spec& m = rule.match;
    if (m.route) member("route", route_name(*m.route));
    if (m.method) member("method", method_name(*m.method));
    if (m.token) member("token", *m.token);
    if (m.namespace_id) {
        char id[store::uuid::text_bytes];
        m.namespace_id->format(id);
        member("namespace", {id, sizeof(id)});
    }
    if (m.key_prefix) member("key_prefix", *m.key_prefix);
    out += R"(},"probability":)";
    append_number(out, rule.probability);
    out += R"(,"latency":)";
    if (rule.latency.distribution == distribution::none) out += "null"; else encode_latency(rule.latency, out);
    out += R"(,"fault":)";
    if (rule.fault.kind == fault_kind::none) out += "null"; else encode_fault(rule.fault, out);
    out += R"(,"rate_limit":)";
    if (!rule.rate_limit.present()) {
        out += "null";
    } else {
        out += R"({"requests":)";
        append_number(out, rule.rate_limit.requests);
        out += R"(,"per_ms":)";
        append_number(out, rule.rate_limit.per_ms);
        out += R"(,"burst":)";
        append_number(out, rule.rate_limit.burst);
        out += '}';
    }
    out += R"(,"expires_after_ms":)";
    if (rule.expires_after_ms) append_number(out, *rule.expires_after_ms); else out += "null";
    out += R"(,"seed":)";
    if (rule.seed) append_number(out, *rule.seed); else out += "null";
    out += R"(,"expires_in_ms":)";
    if (rule.expires_at_ms == never_ms) out += "null";
    else append_number(out, rule.expires_at_ms > now_ms ? rule.expires_at_ms - now_ms : std::uint64_t(0));
    out += R"(,"counters":{"matched":)";
    append_number(out, counted.matched);
    out += R"(,"applied":)";
    append_number(out, counted.applied);
    out += R"(,"delayed":)";
    append_number(out, counted.delayed);
    out += R"(,"faulted":)";
    append_number(out, counted.faulted);
    out += R"(,"rate_limited":)";
    append_number(out, counted.limited);
    out += "}}";
}

}  // namespace ringkv::control
