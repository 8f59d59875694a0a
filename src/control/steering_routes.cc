#include <ringkv/control/steering_routes.hh>

#include "json.hh"
#include "rules_json.hh"

#include <ringkv/control/steering.hh>
#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/net/http/error_response.hh>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace ringkv::control {
namespace {

using net::http::error_code;
using net::http::error_source;
using net::http::method;
using net::http::request;
using net::http::response_writer;

constexpr unsigned keeper_core = 0;

void write_json(response_writer& writer, int status, const std::string& body) {
    writer.write(status, "application/json", body);
}

void write_bad_json(response_writer& writer, const std::string& why) {
    const std::string detail = "the request body is not valid JSON: " + why;
    net::http::write_error(writer, {400, error_code::invalid_json, detail});
}

void write_bad_field(response_writer& writer, const field_error& e) {
    net::http::write_error(writer, {422, error_code::bad_request, e.detail, error_source::pointer(e.pointer)});
}

bool blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// The list as every core now has it, with every core's counters added up.
io::task<> write_rules(response_writer& writer, int status) {
    const rule_table* table = steering::local().table();
    std::vector<rule_spec> rules = table != nullptr ? table->rules() : std::vector<rule_spec>{};
    const std::uint32_t generation = steering::local().generation();
    std::vector<rule_counters> sums(rules.size());
    co_await on_every_core([&sums, generation] {
        const rule_table* t = steering::local().table();
        if (t == nullptr || t->generation() != generation) return;
        for (std::size_t i = 0; i < sums.size() && i < t->counters().size(); ++i) {
            const rule_counters& c = t->counters()[i];
            sums[i].matched += c.matched;
            sums[i].applied += c.applied;
            sums[i].delayed += c.delayed;
            sums[i].faulted += c.faulted;
            sums[i].limited += c.limited;
        }
    });
    std::string body = R"({"data":[)";
    const std::uint64_t now = io::loop::current().now_ms();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        if (i != 0) body += ',';
        encode_rule(rules[i], sums[i], now, body);
    }
    body += "]}";
    write_json(writer, status, body);
}

struct kept_list {
    std::uint32_t generation = 0;
    std::vector<rule_spec> rules;
    bool full = false;  // an append past rules_max
};

// Changes the list on the keeper core, then installs it on every core.
io::task<bool> change_rules(std::vector<rule_spec> rules, bool append) {
    kept_list kept = co_await io::submit_to(keeper_core, [&rules, append] {
        steering::keeper& k = steering::local().kept();
        kept_list out;
        if (append && k.rules.size() + rules.size() > rules_max) {
            out.full = true;
            return out;
        }
        if (append) {
            for (rule_spec& r : rules) k.rules.push_back(std::move(r));
        } else {
            k.rules = std::move(rules);
        }
        out.generation = ++k.generation;
        out.rules = k.rules;
        return out;
    });
    if (kept.full) co_return false;
    co_await on_every_core([&kept] { steering::local().install(kept.generation, kept.rules); });
    co_return true;
}

std::optional<json::value> parse_body(const request& r, response_writer& writer) {
    json::parsed parsed = json::parse(r.body);
    if (!parsed.root) {
        write_bad_json(writer, parsed.error);
        return std::nullopt;
    }
    return std::move(parsed.root);
}

// True when `body` is a JSON object with no member but `member`; else
// answers 422 (`shape`: what the body should look like) and returns false.
bool only_member(const json::value& body, const std::string& member, const std::string& shape,
                 response_writer& writer) {
    if (body.type != json::type::object) {
        write_bad_field(writer, {"", shape});
        return false;
    }
    for (const auto& [name, value] : body.members) {
        if (name != member) {
            write_bad_field(writer, {"/" + name, "unknown field '" + name + "'"});
            return false;
        }
    }
    return true;
}

io::task<> rules_route(request& r, response_writer& writer) {
    const method m = r.head.method;
    if (m == method::get || m == method::head) {
        co_await write_rules(writer, 200);
        co_return;
    }
    std::vector<rule_spec> rules;
    if (m == method::put || m == method::post) {
        const std::optional<json::value> body = parse_body(r, writer);
        if (!body) co_return;
        if (m == method::put) {
            auto decoded = decode_rules(*body);
            if (auto* e = std::get_if<field_error>(&decoded)) {
                write_bad_field(writer, *e);
                co_return;
            }
            rules = std::move(std::get<std::vector<rule_spec>>(decoded));
        } else {
            auto decoded = decode_rule(*body, "");
            if (auto* e = std::get_if<field_error>(&decoded)) {
                write_bad_field(writer, *e);
                co_return;
            }
            rules.push_back(std::move(std::get<rule_spec>(decoded)));
        }
        start_expiry(rules, io::loop::current().now_ms());
    }
    // DELETE: an empty list.
    if (!co_await change_rules(std::move(rules), m == method::post)) {
        write_bad_field(writer, {"", "the list holds its maximum of " + std::to_string(rules_max) + " rules"});
        co_return;
    }
    co_await write_rules(writer, m == method::post ? 201 : 200);
}

// ringkv's wall clock: the machine's plus the virtual clock's lead.
std::uint64_t virtual_wall_ms() {
    timespec real{};
    clock_gettime(CLOCK_REALTIME, &real);
    return std::uint64_t(real.tv_sec) * 1000 + std::uint64_t(real.tv_nsec / 1'000'000) +
           io::loop::current().clock_offset_ms();
}

void write_clock(response_writer& writer) {
    const io::loop& loop = io::loop::current();
    const std::uint64_t now_ms = virtual_wall_ms();
    const std::time_t seconds = std::time_t(now_ms / 1000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char stamp[48];
    const std::size_t n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &parts);
    std::snprintf(stamp + n, sizeof(stamp) - n, ".%03uZ", unsigned(now_ms % 1000));
    std::string body = R"({"offset_ms":)";
    body += std::to_string(loop.clock_offset_ms());
    body += R"(,"now":")";
    body += stamp;
    body += "\"}";
    write_json(writer, 200, body);
}

io::task<> clock_route(request& r, response_writer& writer, clock_recorder record_clock) {
    if (r.head.method == method::get || r.head.method == method::head) {
        write_clock(writer);
        co_return;
    }
    const std::optional<json::value> body = parse_body(r, writer);
    if (!body) co_return;
    if (!only_member(*body, "advance_ms", "the body must be a JSON object: {\"advance_ms\": N}", writer)) co_return;
    const json::value* advance = body->find("advance_ms");
    const std::optional<std::int64_t> ms = advance != nullptr ? advance->integer() : std::nullopt;
    if (!ms || *ms < 0 || std::uint64_t(*ms) > clock_advance_ms_max || body->members.size() != 1) {
        write_bad_field(writer, {"/advance_ms", "must be one integer from 0 to " + std::to_string(clock_advance_ms_max) +
                                                    " (the clock never goes backwards)"});
        co_return;
    }
    const std::uint64_t step = std::uint64_t(*ms);
    if (virtual_wall_ms() + step >= clock_end_ms) {
        write_bad_field(writer, {"/advance_ms", "would take the clock to 2106-01-01 or later (timestamps are 32-bit "
                                                "seconds); the clock can move " +
                                                    std::to_string(clock_end_ms - std::min(clock_end_ms, virtual_wall_ms())) +
                                                    " ms further at most"});
        co_return;
    }
    co_await on_every_core([step] { io::loop::current().advance_clock(step); });
    if (!co_await record_clock()) {
        net::http::write_error(writer, {507, error_code::bad_request,
                                        "the clock moved, but the server cannot keep its lead in its data directory "
                                        "(the disk is full or behind the writes): a restart would find it where it "
                                        "was"});
        co_return;
    }
    write_clock(writer);
}

io::task<> state_route(request& r, response_writer& writer, reset_function reset) {
    std::optional<std::string> organization;
    if (!blank(r.body)) {
        const std::optional<json::value> body = parse_body(r, writer);
        if (!body) co_return;
        if (!only_member(*body, "token", "the body must be empty or a JSON object: {\"token\": \"...\"}", writer)) {
            co_return;
        }
        const json::value* token = body->find("token");
        if (token == nullptr || token->type != json::type::string || token->text.empty() || body->members.size() != 1) {
            write_bad_field(writer, {"/token", "must be one non-empty string: the organization's bearer token"});
            co_return;
        }
        organization = token->text;
    }
    const reset_result done = co_await reset(std::move(organization));
    if (!done.durable) {
        net::http::write_error(writer, {507, error_code::bad_request,
                                        "the server cannot write its data directory (the disk is full)"});
        co_return;
    }
    write_json(writer, 200, R"({"data":{"namespaces_removed":)" + std::to_string(done.namespaces) + "}}");
}

}  // namespace

void start_expiry(std::vector<rule_spec>& rules, std::uint64_t now_ms) {
    for (rule_spec& r : rules) {
        if (r.expires_after_ms) r.expires_at_ms = now_ms + *r.expires_after_ms;
    }
}

void add_steering_routes(admin_table& table, reset_function reset, clock_recorder record_clock) {
    table.add("/_ringkv/rules", {method::get, method::put, method::post, method::delete_}, rules_route);
    // The handlers pass the functions to the coroutines as parameters
    // (copied into their frames), not through captures.
    table.add("/_ringkv/clock", {method::get, method::post}, [record_clock](request& r, response_writer& writer) {
        return clock_route(r, writer, record_clock);
    });
    table.add("/_ringkv/state", {method::delete_},
              [reset](request& r, response_writer& writer) { return state_route(r, writer, reset); });
}

std::variant<std::vector<rule_spec>, std::string> read_rules_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "--rules " + path + ": cannot be read";
    std::string text;
    text.resize(rules_file_bytes_max + 1);
    in.read(text.data(), std::streamsize(text.size()));
    text.resize(std::size_t(in.gcount()));
    if (text.size() > rules_file_bytes_max) {
        return "--rules " + path + ": larger than " + std::to_string(rules_file_bytes_max) + " bytes";
    }
    const json::parsed parsed = json::parse(text);
    if (!parsed.root) return "--rules " + path + ": not valid JSON: " + parsed.error;
    auto decoded = decode_rules(*parsed.root);
    if (auto* e = std::get_if<field_error>(&decoded)) {
        return "--rules " + path + ": " + (e->pointer.empty() ? std::string("the list") : e->pointer) + " " + e->detail;
    }
    return std::move(std::get<std::vector<rule_spec>>(decoded));
}

}  // namespace ringkv::control
