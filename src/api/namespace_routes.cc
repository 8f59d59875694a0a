// Namespaces: create, list, retrieve, delete. Core 0 is the authority for
// names and numbers; the coordinator then applies the change on every core
// before answering, so the next request, on any connection, sees it.
#include "acknowledge.hh"
#include "json.hh"
#include "render.hh"
#include "routes.hh"

#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>

#include <random>

namespace ringkv::api {

using net::http::error_code;
using net::http::error_source;
using store::namespace_record;

namespace {

constexpr unsigned authority_core = 0;

std::uint64_t random_word() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return generator();
}


struct reservation {
    enum class outcome { created, duplicate, organization_full, memory_full, numbers_used_up, storage_full } what =
        outcome::created;
    namespace_record record;
    store::change_log::ticket ticket = 0;  // the creation's record (--data-dir)
};

// Whether one more record fits the registry's share of the memory budget.
// Every core holds a replica, so the authority counts its own footprint
// once per core.
bool registry_has_room(const api_options& options, const core_state& state, std::string_view organization,
                       std::string_view name) {
    const std::size_t cores = io::loop::current().core_count();
    const std::size_t after =
        state.namespaces.footprint_bytes() + store::namespace_registry::footprint_of(organization, name);
    return after <= options.namespace_bytes_max / cores;
}

// On core 0: checks the name and the bounds, and assigns the id and number.
// Bounds, in order: the organization's own limit (422), then the server's
// memory (507), then the 32-bit numbering (never reused, so it can run out
// after 4 billion creations: 507 too).
reservation reserve(const api_options& options, std::string_view organization, const std::string& name,
                    bool ttl_support) {
    core_state& state = core_state::local();
    const io::loop& loop = io::loop::current();
    reservation r;
    if (state.namespaces.find_name(organization, name, loop.now_ms()) != nullptr) {
        r.what = reservation::outcome::duplicate;
        return r;
    }
    if (state.namespaces.count(organization, loop.now_ms()) >= options.namespaces_per_organization) {
        r.what = reservation::outcome::organization_full;
        return r;
    }
    if (!registry_has_room(options, state, organization, name)) {
        r.what = reservation::outcome::memory_full;
        return r;
    }
    if (state.changes != nullptr && !state.changes->accepting()) {
        r.what = reservation::outcome::storage_full;
        return r;
    }
    if (state.next_namespace_number == UINT32_MAX) {
        r.what = reservation::outcome::numbers_used_up;
        return r;
    }
    namespace_record& n = r.record;
    n.id = store::uuid::v4(random_word(), random_word());
    n.number = state.next_namespace_number++;
    n.name = name;
    n.organization = std::string(organization);
    n.ttl_support = ttl_support;
    n.created_at_s = loop.wall_s();
    n.provisioned_at_ms = loop.now_ms() + options.provision_delay_ms;
    n.provisioned_at_s = n.created_at_s + (options.provision_delay_ms + 999) / 1000;
    state.namespaces.insert(n);
    if (state.changes != nullptr) r.ticket = state.changes->namespace_changed(n);
    return r;
}

// Runs apply(record) on every core but the authority, one after another,
// before the coordinator answers. `record` must outlive the calls (it does:
// it is the caller's, and the caller awaits this).
template <typename Apply>
io::task<> on_every_other_core(const namespace_record& record, Apply apply) {
    for (unsigned core = 0; core < io::loop::current().core_count(); ++core) {
        if (core == authority_core) continue;
        co_await io::submit_to(core, [&record, &apply] { apply(core_state::local(), record); });
    }
}

}  // namespace

io::task<> create_namespace(const api_options& options, plan& p, net::http::request& request,
                            net::http::response_writer& writer) {
    const create_body body = parse_create_body(request.body);
    if (body.what == create_body::kind::invalid_json) {
        net::http::write_error(writer, {400, error_code::invalid_json, "the request body is not valid JSON"});
        co_return;
    }
    if (body.what == create_body::kind::not_object) {
        net::http::write_error(writer, {422, error_code::bad_request, "the request body must be a JSON object"});
        co_return;
    }
    if (body.what == create_body::kind::duplicate_member) {
        net::http::write_error(writer, {422, error_code::bad_request, "a member is given more than once",
                                        error_source::pointer(body.duplicate_member)});
        co_return;
    }
    if (!body.has_name) {
        net::http::write_error(writer, {422, error_code::missing_parameter, "name is required", error_source::pointer("/name")});
        co_return;
    }
    if (!body.name_is_string || !valid_namespace_name(body.name)) {
        net::http::write_error(writer, {422, error_code::bad_request, "name must be 1-255 characters of a-z 0-9 -",
                                        error_source::pointer("/name")});
        co_return;
    }
    if (body.has_ttl_support && !body.ttl_support) {
        net::http::write_error(writer, {422, error_code::bad_request, "ttl_support must be true or false",
                                        error_source::pointer("/ttl_support")});
        co_return;
    }
    const bool ttl_support = body.ttl_support.value_or(options.default_ttl_support);
    const std::string_view organization = p.organization;
    const std::string& name = body.name;
    reservation r = co_await io::submit_to(authority_core, [&options, organization, &name, ttl_support] {
        return reserve(options, organization, name, ttl_support);
    });
    if (r.what == reservation::outcome::duplicate) {
        net::http::write_error(writer, {409, error_code::duplicate, "a namespace with this name exists",
                                        error_source::pointer("/name")});
        co_return;
    }
    if (r.what == reservation::outcome::organization_full) {
        net::http::write_error(writer, {422, error_code::bad_request,
                                        "this organization holds its maximum number of namespaces"});
        co_return;
    }
    if (r.what == reservation::outcome::memory_full) {
        net::http::write_error(writer, {507, error_code::bad_request, "the server's memory limit is reached"});
        co_return;
    }
    if (r.what == reservation::outcome::numbers_used_up) {
        net::http::write_error(writer, {507, error_code::bad_request,
                                        "this server has used up its namespace numbers (4,294,967,294 creations); "
                                        "restart it to create more"});
        co_return;
    }
    if (r.what == reservation::outcome::storage_full) {
        write_storage_full(writer);
        co_return;
    }
    // Durable before any other core can take a key for it.
    const bool durable = co_await acknowledged(authority_core, r.ticket);
    const namespace_record& record = r.record;
    if (!durable) {
        // The record may be lost (a failed fsync makes the log distrusted and
        // nothing is retried), so the namespace must not take keys anywhere:
        // core 0 makes it gone at once, no other core ever hears of it, and a
        // restart may find it only as it was created, empty.
        co_await io::submit_to(authority_core, [&record] {
            const io::loop& loop = io::loop::current();
            core_state::local().namespaces.delete_now(record.id, loop.wall_s(), loop.now_ms());
        });
        write_storage_full(writer);
        co_return;
    }
    co_await on_every_other_core(record, [](core_state& state, const namespace_record& n) { state.namespaces.insert(n); });
    std::string& out = reply_buffer();
    out.append(R"({"data":)");
    render_namespace(record, io::loop::current().now_ms(), out, store::namespace_status::pending);
    out.push_back('}');
    writer.write(201, "application/json", out);
}

void list_namespaces(plan& p, net::http::response_writer& writer) {
    const std::uint64_t now = io::loop::current().now_ms();
    const auto page = core_state::local().namespaces.list(p.organization, p.page_number, p.page_size, now);
    std::string& out = reply_buffer();
    out.append(R"({"data":[)");
    for (std::size_t i = 0; i < page.records.size(); ++i) {
        if (i != 0) out.push_back(',');
        render_namespace(*page.records[i], now, out);
    }
    out.append(R"(],"meta":{"page_number":)");
    append_number(p.page_number, out);
    out.append(R"(,"page_size":)");
    append_number(p.page_size, out);
    out.append(R"(,"total_pages":)");
    append_number(std::max<std::uint64_t>(1, (page.total + p.page_size - 1) / p.page_size), out);
    out.append(R"(,"total_results":)");
    append_number(page.total, out);
    out.append("}}");
    writer.write(200, "application/json", out);
}

void retrieve_namespace(plan& p, net::http::response_writer& writer) {
    const std::uint64_t now = io::loop::current().now_ms();
    const namespace_record* record = core_state::local().namespaces.find(p.id, p.organization, now);
    if (record == nullptr) {  // deleted since on_head (cannot happen between them today)
        net::http::write_error(writer, {404, error_code::not_found, "no namespace with this id", error_source::pointer("/id")});
        return;
    }
    std::string& out = reply_buffer();
    out.append(R"({"data":)");
    render_namespace(*record, now, out);
    out.push_back('}');
    writer.write(200, "application/json", out);
}

io::task<> delete_namespace(const api_options& options, plan& p, net::http::response_writer& writer) {
    struct decision {
        enum class outcome { deleting, not_found, conflict, storage_full } what = outcome::not_found;
        namespace_record record;
        store::change_log::ticket ticket = 0;  // the deletion's record (--data-dir)
    };
    const store::uuid id = p.id;
    const std::string_view organization = p.organization;
    // Core 0 decides, so two concurrent deletes cannot both succeed.
    decision d = co_await io::submit_to(authority_core, [&options, id, organization] {
        core_state& state = core_state::local();
        const io::loop& loop = io::loop::current();
        decision result;
        const namespace_record* record = state.namespaces.find(id, organization, loop.now_ms());
        if (record == nullptr) return result;
        if (record->deleting) {
            result.what = decision::outcome::conflict;
            return result;
        }
        if (state.changes != nullptr && !state.changes->accepting()) {
            result.what = decision::outcome::storage_full;
            return result;
        }
        state.namespaces.mark_deleting(id, loop.wall_s(), loop.now_ms() + options.delete_delay_ms);
        state.keys.drop_namespace(record->number);
        result.what = decision::outcome::deleting;
        result.record = *record;
        if (state.changes != nullptr) result.ticket = state.changes->namespace_changed(*record);
        return result;
    });
    if (d.what == decision::outcome::not_found) {
        net::http::write_error(writer, {404, error_code::not_found, "no namespace with this id", error_source::pointer("/id")});
        co_return;
    }
    if (d.what == decision::outcome::conflict) {
        net::http::write_error(writer, {409, error_code::bad_request, "the namespace is already being deleted"});
        co_return;
    }
    if (d.what == decision::outcome::storage_full) {
        write_storage_full(writer);
        co_return;
    }
    const bool durable = co_await acknowledged(authority_core, d.ticket);
    const namespace_record& record = d.record;
    co_await on_every_other_core(record, [](core_state& state, const namespace_record& n) {
        state.namespaces.mark_deleting(n.id, n.delete_requested_at_s, n.deleted_at_ms);
        state.keys.drop_namespace(n.number);
    });
    if (!durable) {
        write_storage_full(writer);
        co_return;
    }
    std::string& out = reply_buffer();
    out.append(R"({"data":)");
    render_namespace(record, io::loop::current().now_ms(), out, store::namespace_status::deleting);
    out.push_back('}');
    writer.write(200, "application/json", out);
}

}  // namespace ringkv::api
