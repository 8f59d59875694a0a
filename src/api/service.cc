#include <ringkv/api/service.hh>

#include "cursor.hh"
#include "keys.hh"
#include "plan.hh"
#include "routes.hh"
#include "text.hh"
#include "write_batch.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>

#include <cstdio>

namespace ringkv::api {

using net::http::error_code;
using net::http::error_source;
using net::http::head_verdict;
using net::http::method;

namespace {

thread_local core_state* local_state = nullptr;

constexpr std::string_view healthz_path = "/healthz";
// 28 bytes: bench/http_core.sh has nginx answer the very same body.
constexpr std::string_view healthz_body = R"({"data":{"status":"online"}})";
constexpr std::string_view kvs_path = "/v2/storage/kvs";
constexpr std::uint64_t page_size_max = 250;
constexpr std::uint64_t list_limit_max = 1000;
constexpr std::uint64_t ttl_secs_max = 9'223'372'036;

// Splits a path into a route and its raw {id} and {key} parts.
struct matched {
    route which = route::none;
    std::string_view id = {};
    std::string_view key = {};
};

matched match(std::string_view path) {
    if (path == healthz_path) return {route::healthz, {}, {}};
    if (!path.starts_with(kvs_path)) return {};
    std::string_view rest = path.substr(kvs_path.size());
    if (rest.empty()) return {route::namespaces, {}, {}};
    if (rest.front() != '/') return {};
    rest.remove_prefix(1);
    const std::size_t slash = rest.find('/');
    const std::string_view id = rest.substr(0, slash);
    if (id.empty()) return {};
    if (slash == std::string_view::npos) return {route::one_namespace, id, {}};
    const std::string_view tail = rest.substr(slash);
    if (tail == "/keys") return {route::keys, id, {}};
    if (tail.starts_with("/keys/")) return {route::one_key, id, tail.substr(6)};
    return {};
}

// The Allow header of a route, or empty when the method is allowed.
std::string_view disallowed(route which, method m) {
    const bool get = m == method::get || m == method::head;
    switch (which) {
        case route::healthz: return get ? "" : "Allow: GET, HEAD\r\n";
        case route::namespaces: return get || m == method::post ? "" : "Allow: GET, HEAD, POST\r\n";
        case route::one_namespace: return get || m == method::delete_ ? "" : "Allow: GET, HEAD, DELETE\r\n";
        case route::keys: return get ? "" : "Allow: GET, HEAD\r\n";
        case route::one_key:
            return get || m == method::put || m == method::delete_ ? "" : "Allow: GET, HEAD, PUT, DELETE\r\n";
        case route::admin:
        case route::none: break;
    }
    return "";
}

bool authorized(const api_options& options, std::string_view token) {
    if (token.empty()) return false;
    return !options.tokens || options.tokens->contains(token);
}

// A positive integer query parameter: absent keeps `value`; present must be
// plain digits and at least 1; a larger value than clamp_to counts as clamp_to.
bool read_positive(std::string_view query, std::string_view name, std::uint64_t& value, std::uint64_t clamp_to) {
    const query_number q = find_query_decimal(query, name);
    if (!q.present) return true;
    if (!q.value || *q.value == 0) return false;
    value = std::min(*q.value, clamp_to);
    return true;
}

net::http::error bad_parameter(std::string_view name, std::string_view detail) {
    return {422, error_code::bad_request, detail, error_source::parameter(name)};
}

}  // namespace

core_state& core_state::local() { return *local_state; }
void core_state::set_local(core_state* state) { local_state = state; }

namespace {

// Query parameters, per route (API.md: 422 with the parameter named).
std::optional<net::http::error> read_query(const api_options& options, const net::http::request_head& head, plan& p) {
    const std::string_view query = head.query;
    if (p.which == route::namespaces && head.method != method::post) {
        if (!read_positive(query, "page[number]", p.page_number, UINT64_MAX)) {
            return bad_parameter("page[number]", "page[number] must be an integer of at least 1");
        }
        if (!read_positive(query, "page[size]", p.page_size, page_size_max)) {
            return bad_parameter("page[size]", "page[size] must be an integer of at least 1");
        }
    } else if (p.which == route::keys) {
        std::uint64_t limit = list_limit_max;
        if (!read_positive(query, "limit", limit, list_limit_max)) {
            return bad_parameter("limit", "limit must be an integer from 1 to 1000");
        }
        p.limit = std::uint32_t(limit);
        char storage[limits::target_bytes_max];
        const query_value prefix = find_query(query, "prefix", storage);
        if (prefix.malformed) return bad_parameter("prefix", "prefix is not valid percent-encoding");
        p.prefix_matches_nothing = prefix.value.size() > key_bytes_max;
        p.prefix_bytes = std::uint16_t(std::min(prefix.value.size(), key_bytes_max));
        std::copy_n(prefix.value.data(), p.prefix_bytes, p.prefix);
    } else if (p.which == route::one_key && head.method == method::put) {
        if (find_query_decimal(query, "ttl").present) {
            return bad_parameter("ttl", "the ttl parameter is not supported; use ttl_secs");
        }
        const query_number ttl = find_query_decimal(query, "ttl_secs");
        if (ttl.present) {
            const auto seconds = ttl.value;
            if (!seconds || *seconds < 1 || *seconds > ttl_secs_max) {
                return bad_parameter("ttl_secs", "ttl_secs must be an integer from 1 to 9223372036");
            }
            p.ttl_ms = *seconds * 1000;
        }
    }
    (void)options;
    return std::nullopt;
}

// The namespace of {id}: it must exist for this organization (404), and for
// key routes be provision_ok (409), and for a TTL write support TTLs (409).
std::optional<net::http::error> check_namespace(const net::http::request_head& head, plan& p) {
    const std::uint64_t now = io::loop::current().now_ms();
    const store::namespace_record* record = core_state::local().namespaces.find(p.id, p.organization, now);
    if (record == nullptr) {
        return net::http::error{404, error_code::not_found, "no namespace with this id", error_source::pointer("/id")};
    }
    p.namespace_number = record->number;
    const store::namespace_status status = record->status(now);
    if (p.which == route::one_namespace) {
        if (head.method == method::delete_ && status == store::namespace_status::deleting) {
            return net::http::error{409, error_code::bad_request, "the namespace is already being deleted"};
        }
        return std::nullopt;
    }
    if (status != store::namespace_status::provision_ok) {
        return net::http::error{409, error_code::bad_request,
                                status == store::namespace_status::deleting ? "the namespace is being deleted"
                                                                            : "the namespace is not provisioned yet"};
    }
    if (p.ttl_ms != 0 && !record->ttl_support) {
        return net::http::error{409, error_code::bad_request, "the namespace does not support TTL",
                                error_source::parameter("ttl_secs")};
    }
    return std::nullopt;
}

// The checks after authentication, in API.md's order: query parameters,
// the namespace, a PUT's body.
std::optional<net::http::error> later_checks(const api_options& options, const net::http::request_head& head, plan& p) {
    if (auto e = read_query(options, head, p)) return e;
    if (p.which == route::one_namespace || p.which == route::keys || p.which == route::one_key) {
        if (auto e = check_namespace(head, p)) return e;
    }
    if (p.which == route::one_key && head.method == method::put && !head.body_follows()) {
        return net::http::error{400, error_code::missing_parameter, "request body is required"};
    }
    return std::nullopt;
}

// Only PUT (a key's value) and POST (a namespace) read their body; any
// other body is dropped as it arrives, never buffered.
head_verdict body_verdict(const net::http::request_head& head) {
    const bool wants_body = head.method == method::put || head.method == method::post;
    return wants_body ? head_verdict::read_body(limits::body_bytes_max) : head_verdict::ignore_body();
}

control::route_kind route_kind_of(route which, method m) {
    using control::route_kind;
    const bool get = m == method::get || m == method::head;
    switch (which) {
        case route::namespaces: return get ? route_kind::list_namespaces : route_kind::create_namespace;
        case route::one_namespace: return get ? route_kind::get_namespace : route_kind::delete_namespace;
        case route::keys: return route_kind::list_keys;
        case route::one_key: return get ? route_kind::get_key : m == method::put ? route_kind::put_key : route_kind::delete_key;
        default: return route_kind::other;
    }
}

// What a steering rule can match, as on_head knows it after authentication.
control::request_facts facts_of(const net::http::request_head& head, const plan& p, std::uint64_t connection_request) {
    control::request_facts f;
    f.route = route_kind_of(p.which, head.method);
    f.method = head.method;
    f.token = p.organization;
    const bool has_id = p.which == route::one_namespace || p.which == route::keys || p.which == route::one_key;
    f.namespace_id = has_id ? &p.id : nullptr;
    if (p.which == route::one_key) f.key = p.key_view();
    f.connection_request = connection_request;
    return f;
}

// The Telnyx error code of an injected status when the rule names none.
std::uint32_t fault_code_of(int status) {
    switch (status) {
        case 401: return std::uint32_t(error_code::authentication_failed);
        case 404: return std::uint32_t(error_code::not_found);
        case 429: return std::uint32_t(error_code::too_many_requests);
        default: return std::uint32_t(status < 500 ? error_code::bad_request : error_code::unexpected);
    }
}

}  // namespace

// A control-plane path (/_ringkv/..., /metrics): every check its handler
// relies on, in the KV API's order (route, method, auth, size).
head_verdict service::admin_head(const net::http::request_head& head, net::http::response_writer& writer, plan& p) {
    p.which = route::admin;  // for the metrics, even when refused below
    const control::admin_table::route* r = _admin.find(head.path);
    if (r == nullptr) return reject(writer, {404, error_code::not_found, "no route matches this path"});
    if (!r->allows(head.method)) {
        return reject(writer, {405, error_code::bad_request, "this method is not allowed on this path"},
                      r->allow_header);
    }
    if (!_admin.admitted(*r, head.authorization)) {
        return reject(writer, {401, error_code::authentication_failed, "the admin token is required"});
    }
    if (head.content_length.value_or(0) > limits::body_bytes_max) return head_verdict::too_large();
    p.admin_route = r;
    const bool wants_body = head.method == method::put || head.method == method::post || head.method == method::delete_;
    return wants_body ? head_verdict::read_body(limits::body_bytes_max) : head_verdict::ignore_body();
}

head_verdict service::on_head(const net::http::request_head& head, net::http::response_writer& writer,
                              net::http::request_scratch& scratch) {
    // Default-initialised, not value-initialised: the key buffers are
    // written before they are read, so nothing clears ~800 bytes per request.
    plan& p = *new (scratch.storage.data()) plan;
    p.query = head.query;
    if (_admin.owns(head.path)) return admin_head(head, writer, p);
    const matched m = match(head.path);
    p.which = m.which;
    if (m.which == route::none) return reject(writer, {404, error_code::not_found, "no route matches this path"});
    if (const std::string_view allow = disallowed(m.which, head.method); !allow.empty()) {
        return reject(writer, {405, error_code::bad_request, "this method is not allowed on this path"}, allow);
    }
    if (head.content_length.value_or(0) > limits::body_bytes_max && m.which == route::healthz) {
        return head_verdict::too_large();
    }
    if (m.which == route::healthz) return head_verdict::ignore_body();

    p.organization = bearer_token(head.authorization);
    if (!authorized(_options, p.organization)) {
        return reject(writer, {401, error_code::authentication_failed, "a valid bearer token is required"});
    }
    if (!m.id.empty()) {
        const auto id = store::uuid::parse(m.id);
        if (!id) return reject(writer, {400, error_code::invalid_id, "the id is not a UUID", error_source::pointer("/id")});
        p.id = *id;
    }
    if (m.which == route::one_key) {
        const auto key = decode_key(m.key, p.key);
        if (!key) {
            return reject(writer, {400, error_code::bad_request,
                                   "the key must be 1-256 characters of a-z A-Z 0-9 - _ / = . and not start with _",
                                   error_source::pointer("/key")});
        }
        p.key_bytes = std::uint16_t(key->size());
    }
    if (head.content_length.value_or(0) > limits::body_bytes_max) return head_verdict::too_large();
    if (_steering.active()) [[unlikely]] {
        const control::request_facts facts = facts_of(head, p, scratch.connection_request);
        p.steer = _steering.decide(facts, io::loop::current().now_ms());
        if (p.steer.matched()) return steered_head(head, writer, p);
    }
    return checked_head(head, writer, p);
}

head_verdict service::checked_head(const net::http::request_head& head, net::http::response_writer& writer, plan& p) {
    if (auto e = later_checks(_options, head, p)) return reject(writer, *e);
    return body_verdict(head);
}

head_verdict service::steered_head(const net::http::request_head& head, net::http::response_writer& writer, plan& p) {
    if (p.steer.rate_limited) {
        // The bucket is on the token's core: on_request asks it, then makes
        // the checks that follow the limit.
        p.checks_deferred = true;
        return body_verdict(head);
    }
    // Injected before anything is written, so Server-Timing shows the delay.
    writer.inject(injection_of(p));
    if (fault_in_force(p) && !p.steer.fault_after) {
        write_fault(p, writer);  // before: the operation does not run
        return head_verdict::answered();
    }
    const head_verdict verdict = checked_head(head, writer, p);
    if (verdict.what == head_verdict::action::answered) {
        // The answer of a check is the operation's answer: an "after" fault
        // replaces it as it would the operation's.
        if (p.steer.fault == control::fault_kind::status && fault_in_force(p)) {
            writer.discard();
            write_fault(p, writer);
        }
    } else {
        writer.inject({});  // on_request injects it again with the body
    }
    return verdict;
}

net::http::injection service::injection_of(const plan& p) const {
    using transport = net::http::injection::transport;
    net::http::injection what;
    what.delay_us = p.steer.delay_us;
    switch (p.steer.fault) {
        case control::fault_kind::none:
        case control::fault_kind::status: break;  // the service writes it
        case control::fault_kind::reset: what.fault = transport::reset; break;
        case control::fault_kind::close: what.fault = transport::close; break;
        case control::fault_kind::hang: what.fault = transport::hang; break;
        case control::fault_kind::truncate: what.fault = transport::truncate; break;
        case control::fault_kind::dribble:
            if (const control::rule_spec* rule = _steering.rule(p.steer)) {
                what.fault = transport::dribble;
                what.bytes_per_second = rule->fault.bytes_per_second;
            }
            break;
    }
    return what;
}

bool service::fault_in_force(const plan& p) const {
    if (p.steer.fault == control::fault_kind::status) return _steering.rule(p.steer) != nullptr;
    return p.steer.fault != control::fault_kind::none;
}

void service::write_fault(const plan& p, net::http::response_writer& writer) {
    const control::rule_spec* rule = _steering.rule(p.steer);
    if (p.steer.fault != control::fault_kind::status || rule == nullptr) {
        RINGKV_DEBUG_ASSERT(p.steer.fault != control::fault_kind::status);  // callers ask fault_in_force() first
        writer.write_nothing();  // the connection resets, closes or hangs instead
        return;
    }
    const int status = rule->fault.status;
    const std::uint32_t code = rule->fault.code != 0 ? rule->fault.code : fault_code_of(status);
    const std::string_view detail = !rule->fault.detail.empty() ? rule->fault.detail : net::http::reason_phrase(status);
    net::http::write_error(writer, {status, error_code(code), detail});
}

io::task<bool> service::admit(plan& p, net::http::response_writer& writer) {
    const control::decision d = p.steer;
    const control::rule_spec* rule = _steering.rule(d);
    if (rule == nullptr) co_return true;  // the list was replaced meanwhile
    const control::rate_limit_spec limit = rule->rate_limit;
    const std::string_view token = p.organization;
    const unsigned owner = control::steering::bucket_core(token, io::loop::current().core_count());
    const control::admission a = co_await io::submit_to(owner, [d, limit, token] {
        return control::steering::local().admit(d.generation, d.rule, limit, token, io::loop::current().now_ms());
    });
    char lines[net::http::response_writer::sticky_bytes_max];
    const int bytes = std::snprintf(lines, sizeof(lines),
                                    "x-ratelimit-limit: %llu\r\nx-ratelimit-remaining: %llu\r\nx-ratelimit-reset: %llu\r\n",
                                    static_cast<unsigned long long>(a.limit), static_cast<unsigned long long>(a.remaining),
                                    static_cast<unsigned long long>(a.reset_s));
    writer.add_sticky_headers({lines, std::size_t(bytes)});
    if (a.admitted) co_return true;
    _steering.count_limited(d);
    writer.inject({});  // a 429 leaves at once, without the rule's delay or fault
    char retry[48];
    const int retry_bytes = std::snprintf(retry, sizeof(retry), "Retry-After: %llu\r\n",
                                          static_cast<unsigned long long>(a.retry_after_s));
    net::http::write_error(writer, {429, error_code::too_many_requests,
                                    "You have exceeded the maximum number of allowed requests."},
                           {retry, std::size_t(retry_bytes)});
    co_return false;
}

io::task<> service::steered_request(net::http::request& request, net::http::response_writer& writer, plan& p) {
    writer.inject(injection_of(p));
    if (p.steer.rate_limited) {
        if (!co_await admit(p, writer)) co_return;
        if (fault_in_force(p) && !p.steer.fault_after) {
            write_fault(p, writer);
            co_return;
        }
        if (p.checks_deferred) {
            if (auto e = later_checks(_options, request.head, p)) {
                net::http::write_error(writer, *e);
                if (p.steer.fault == control::fault_kind::status && fault_in_force(p)) {
                    writer.discard();
                    write_fault(p, writer);
                }
                co_return;
            }
        }
    }
    co_await route_request(request, writer, p);
    if (p.steer.fault == control::fault_kind::status && p.steer.fault_after && fault_in_force(p)) {
        writer.discard();  // after: the operation ran; its answer is lost
        write_fault(p, writer);
    }
}

io::task<> service::on_request(net::http::request& request, net::http::response_writer& writer,
                               net::http::request_scratch& scratch) {
    plan& p = plan_in(scratch);
    if (p.steer.matched()) [[unlikely]] {
        co_await steered_request(request, writer, p);
    } else {
        co_await route_request(request, writer, p);
    }
}

io::task<> service::route_request(net::http::request& request, net::http::response_writer& writer, plan& p) {
    const method m = request.head.method;
    const bool get = m == method::get || m == method::head;
    switch (p.which) {
        case route::healthz:
            writer.write(200, "application/json", healthz_body);
            co_return;
        case route::namespaces:
            if (get) list_namespaces(p, writer);
            else co_await create_namespace(_options, p, request, writer);
            co_return;
        case route::one_namespace:
            if (get) retrieve_namespace(p, writer);
            else co_await delete_namespace(_options, p, writer);
            co_return;
        case route::keys:
            co_await list_keys(_options, p, writer);
            co_return;
        case route::one_key:
            if (get) get_key(p, writer);
            else if (m == method::put) co_await put_key(p, request, writer);
            else co_await delete_key(p, writer);
            co_return;
        case route::admin:
            co_await p.admin_route->handler(request, writer);
            if (!writer.written()) {
                net::http::write_error(writer, {500, error_code::unexpected, "the control route gave no answer"});
            }
            co_return;
        case route::none:
            break;
    }
    net::http::write_error(writer, {500, error_code::unexpected, "unrouted request"});
}

namespace {

// The route the metrics name a request by: the plan's route and the method.
metrics::route metrics_route(const plan& p, const net::http::request_head& head) {
    const method m = head.method;
    const bool get = m == method::get || m == method::head;
    switch (p.which) {
        case route::healthz: return metrics::route::healthz;
        case route::namespaces:
            return get ? metrics::route::list_namespaces
                       : m == method::post ? metrics::route::create_namespace : metrics::route::other;
        case route::one_namespace:
            return get ? metrics::route::get_namespace
                       : m == method::delete_ ? metrics::route::delete_namespace : metrics::route::other;
        case route::keys: return get ? metrics::route::list_keys : metrics::route::other;
        case route::one_key:
            if (get) return metrics::route::get_key;
            if (m == method::put) return metrics::route::put_key;
            return m == method::delete_ ? metrics::route::delete_key : metrics::route::other;
        case route::admin: return head.path == "/metrics" ? metrics::route::metrics : metrics::route::admin;
        case route::none: break;
    }
    return metrics::route::other;
}

}  // namespace

void service::on_answered(const net::http::request_head* head, const net::http::request_scratch& scratch,
                          net::http::exchange& done) {
    if (head == nullptr) {
        _observer.on_answered(metrics::route::other, nullptr, {}, done);
        return;
    }
    // on_head has run for this head: the scratch holds its plan.
    const plan& p = *std::launder(reinterpret_cast<const plan*>(scratch.storage.data()));
    const std::string_view token = _observer.wants_token() ? bearer_token(head->authorization) : std::string_view();
    _observer.on_answered(metrics_route(p, *head), head, token, done);
}

void service::on_complete(const net::http::exchange& done) { _observer.on_complete(done); }

void service::on_settled(const net::http::exchange& done) { _observer.on_settled(done); }

service::service(const api_options& options, const control::admin_table& admin, control::steering& steering,
                 control::observer& observer)
    : _options(options), _admin(admin), _steering(steering), _observer(observer) {}

service::~service() = default;

namespace {

bool is_key_write(method m) { return m == method::put || m == method::delete_; }

write_batch* batch_in(net::http::request_scratch& scratch) { return static_cast<write_batch*>(scratch.deferred); }

static_assert(sizeof(write_batch) <= write_batch::bytes_max, "the spare batches' bound (service.hh) counts on it");

}  // namespace

bool service::may_defer(const net::http::request_head& head) const {
    if (!is_key_write(head.method) || head.expect_continue || _steering.active()) return false;
    return !_admin.owns(head.path) && match(head.path).which == route::one_key;
}

bool service::defer(net::http::request& request, net::http::request_scratch& scratch, bool more_buffered) {
    const plan& p = plan_in(scratch);
    if (p.which != route::one_key || !is_key_write(request.head.method) || request.head.expect_continue) return false;
    // A rule list in force (even one that did not match this request) keeps
    // every request on its own: faults and limits stay per request.
    if (p.steer.matched() || _steering.active()) return false;
    write_batch* batch = batch_in(scratch);
    if (batch == nullptr) {
        if (!more_buffered) return false;  // nothing behind it to batch with
        if (_spare_batches.empty()) {
            batch = new write_batch();
        } else {
            batch = _spare_batches.back().release();
            _spare_batches.pop_back();
        }
        scratch.deferred = batch;
    }
    const bool taken = batch->add(p, request);
    RINGKV_DEBUG_ASSERT(taken || batch->size() > 0);  // an empty batch takes any write
    return taken;
}

io::task<> service::run_deferred(net::http::request_scratch& scratch) {
    write_batch* batch = batch_in(scratch);
    RINGKV_ASSERT(batch != nullptr);
    co_await batch->run();
}

void service::write_deferred(std::size_t index, net::http::response_writer& writer,
                             net::http::request_scratch& scratch) {
    write_batch* batch = batch_in(scratch);
    RINGKV_ASSERT(batch != nullptr);
    batch->answer(index, writer);
    if (index + 1 < batch->size()) return;
    // The last answer: the batch goes back for the next connection.
    batch->clear();
    scratch.deferred = nullptr;
    std::unique_ptr<write_batch> spare(batch);
    if (_spare_batches.size() < spare_batches_max) _spare_batches.push_back(std::move(spare));
}

}  // namespace ringkv::api
