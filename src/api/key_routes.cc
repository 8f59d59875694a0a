// Keys: put, get, delete and list. The coordinator (the core that parsed
// the request) computes the owner core with shard_of(). Writes and listings
// run on the owner with submit_to(): inline when it is itself the owner, as
// a message otherwise. A GET reads the owner's shard in place, lock-free
// (store/concurrent_read.hh): the one read of another core's data.
#include "acknowledge.hh"
#include "cursor.hh"
#include "owner.hh"
#include "render.hh"
#include "routes.hh"
#include "text.hh"

#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/store/concurrent_read.hh>
#include <ringkv/store/sharding.hh>

#include <memory>
#include <optional>
#include <vector>

namespace ringkv::api {

using net::http::error_code;
using net::http::error_source;

namespace {

constexpr std::string_view default_content_type = "application/octet-stream";
// Values at least this large are sent from the item itself (sendmsg, no
// copy into the output buffer); smaller ones are copied so pipelined
// responses still leave in one send.
constexpr std::size_t zero_copy_value_bytes_min = 16 * 1024;
// A content type longer than this is refused (415) rather than stored.
constexpr std::size_t content_type_bytes_max = store::item::content_type_bytes_max;

// Control bytes (CR and LF above all) must never be stored and echoed into a
// response head; the HTTP layer refuses them first, this keeps it true here.
bool has_control_bytes(std::string_view text) {
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && byte != '\t') || byte == 0x7f) return true;
    }
    return false;
}

store::instant now_here() {
    const io::loop& loop = io::loop::current();
    return {loop.now_ms(), loop.wall_s()};
}

unsigned owner_of(std::uint64_t hash) { return store::shard_of(hash, io::loop::current().core_count()); }


}  // namespace

std::string_view content_type_of(const net::http::request& request) {
    return request.head.content_type.empty() ? default_content_type : request.head.content_type;
}

std::optional<net::http::error> put_refusal(const net::http::request& request) {
    if (request.body.empty()) {  // a chunked body with no data
        return net::http::error{400, error_code::missing_parameter, "request body is required"};
    }
    const std::string_view content_type = content_type_of(request);
    if (content_type.size() > content_type_bytes_max) {
        return net::http::error{415, error_code::unsupported_media_type, "the Content-Type is longer than 256 bytes"};
    }
    if (has_control_bytes(content_type)) {
        return net::http::error{415, error_code::unsupported_media_type, "the Content-Type holds control characters"};
    }
    return std::nullopt;
}

void write_put_answer(put_outcome result, net::http::response_writer& writer) {
    switch (result) {
        case put_outcome::created: writer.write_empty(201); break;
        case put_outcome::replaced: writer.write_empty(200); break;
        case put_outcome::memory_full:
            net::http::write_error(writer, {507, error_code::bad_request, "the server's memory limit is reached"});
            break;
        case put_outcome::storage_full: write_storage_full(writer); break;
        case put_outcome::namespace_deleting:
            net::http::write_error(writer, {409, error_code::bad_request, "the namespace is being deleted"});
            break;
        case put_outcome::namespace_gone:
            net::http::write_error(writer, {404, error_code::not_found, "no namespace with this id", error_source::pointer("/id")});
            break;
    }
}

void write_delete_answer(bool stored, net::http::response_writer& writer) {
    if (stored) {
        writer.write_empty(204);
    } else {
        write_storage_full(writer);
    }
}

io::task<> put_key(plan& p, net::http::request& request, net::http::response_writer& writer) {
    if (const std::optional<net::http::error> refused = put_refusal(request)) {
        net::http::write_error(writer, *refused);
        co_return;
    }
    const std::string_view content_type = content_type_of(request);
    put_order order;
    order.hash = store::key_hash(p.namespace_number, p.key_view());
    order.namespace_number = p.namespace_number;
    order.key = p.key_view();
    order.value = request.body;
    order.content_type = content_type;
    order.ttl_ms = p.ttl_ms;
    // The owner copies the body straight from this connection's buffer into
    // the new item: one copy, made on the core that will own the memory.
    const unsigned owner = owner_of(order.hash);
    store::change_log::ticket ticket = 0;
    put_outcome result = co_await io::submit_to(owner, [&order, &ticket] {
        return put_on_owner(core_state::local(), order, now_here(), &ticket);
    });
    if (!co_await acknowledged(owner, ticket)) result = put_outcome::storage_full;
    write_put_answer(result, writer);
}

void get_key(plan& p, net::http::response_writer& writer) {
    const std::uint64_t hash = store::key_hash(p.namespace_number, p.key_view());
    const io::loop& here = io::loop::current();
    const core_state& local = core_state::local();
    // Whichever core owns the key, its shard is read here, with no message
    // (store/concurrent_read.hh); the pointer is good until this loop's next
    // quiescent state, so the value is copied out (or a reference taken)
    // before this function returns.
    const store::concurrent_item found =
        store::read_concurrent(*(*local.shards)[owner_of(hash)], hash, p.namespace_number, p.key_view(),
                               here.now_ms(), here.quiescent(), here.core());
    if (!found) {
        net::http::write_error(writer, {404, error_code::not_found, "no key with this name", error_source::pointer("/key")});
        return;
    }
    // The type lives in the item (or in the fixed well-known table), as
    // immutable as the value.
    if (found->value_bytes() < zero_copy_value_bytes_min) {
        writer.write(200, found->content_type(), found->value());
        return;
    }
    store::item_ref kept = found.keep();
    const std::string_view value = kept->value();
    const std::string_view content_type = kept->content_type();
    writer.write_external(200, content_type, {value, &store::item_ref::release_raw, kept.leak()});
}

io::task<> delete_key(plan& p, net::http::response_writer& writer) {
    const std::uint64_t hash = store::key_hash(p.namespace_number, p.key_view());
    const unsigned owner = owner_of(hash);
    // The ticket of the erase's record; no value: the log refused it first.
    const std::optional<store::change_log::ticket> ticket = co_await io::submit_to(owner, [&p, hash] {
        return erase_on_owner(core_state::local(), hash, p.namespace_number, p.key_view());
    });
    bool stored = ticket.has_value();
    if (stored) stored = co_await acknowledged(owner, *ticket);
    write_delete_answer(stored, writer);
}

namespace {

// Average key bytes reserved per listed key; longer keys grow the buffer.
constexpr std::size_t listed_key_bytes_reserved = 64;

// One core's part of a listing, copied out of its items so the coordinator
// never reads another core's memory after the call returns: the key bytes
// packed in one buffer, and an entry per key.
struct core_listing {
    struct entry {
        std::uint32_t key_offset;
        std::uint16_t key_bytes;
        std::uint32_t size_bytes;
        std::uint32_t updated_at_s;
    };
    std::vector<char> keys;
    std::vector<entry> entries;
    std::size_t next = 0;  // merge position

    // Empties it for a new listing; buffers keep their capacity.
    void reset(std::size_t entries_expected) {
        keys.clear();
        entries.clear();
        next = 0;
        entries.reserve(entries_expected);
        keys.reserve(entries_expected * listed_key_bytes_reserved);
    }
    std::string_view key(const entry& e) const { return {keys.data() + e.key_offset, e.key_bytes}; }
    bool exhausted() const { return next == entries.size(); }
    const entry& front() const { return entries[next]; }
};

// A listing's buffers, one core_listing per core. Taken from a per-core
// pool for the request and given back after, so concurrent listings never
// share them and a warm pool allocates nothing. The pool holds at most
// one set per listing that ran concurrently on this core.
// Every part is emptied when taken, whatever the listing then does, so no
// key of an earlier listing (another tenant's) can reach this one.
class listing_buffers {
public:
    listing_buffers(unsigned cores, std::size_t entries_expected) {
        thread_local std::vector<std::unique_ptr<std::vector<core_listing>>> pool;
        _pool = &pool;
        if (pool.empty()) {
            _taken = std::make_unique<std::vector<core_listing>>(cores);
        } else {
            _taken = std::move(pool.back());
            pool.pop_back();
        }
        for (core_listing& part : *_taken) part.reset(entries_expected);
    }
    ~listing_buffers() { _pool->push_back(std::move(_taken)); }
    listing_buffers(const listing_buffers&) = delete;
    listing_buffers& operator=(const listing_buffers&) = delete;

    core_listing& operator[](unsigned core) { return (*_taken)[core]; }

private:
    std::vector<std::unique_ptr<std::vector<core_listing>>>* _pool;
    std::unique_ptr<std::vector<core_listing>> _taken;
};

// Runs on the owner: its first `limit` live keys after the cursor.
void list_on_owner(const plan& p, std::size_t limit, core_listing& out) {
    thread_local std::vector<store::list_entry> entries;
    entries.clear();
    core_state::local().keys.list(p.namespace_number, p.prefix_view(), p.after_view(), limit, now_here(), entries);
    for (const store::list_entry& e : entries) {
        out.entries.push_back({std::uint32_t(out.keys.size()), std::uint16_t(e.key.size()), e.size_bytes, e.updated_at_s});
        out.keys.insert(out.keys.end(), e.key.begin(), e.key.end());
    }
}

void append_entry(std::string_view key, const core_listing::entry& e, std::string& out) {
    out.append(R"({"key":")");
    out.append(key);  // key characters need no JSON escaping
    out.append(R"(","size_bytes":)");
    append_number(e.size_bytes, out);
    out.append(R"(,"updated_at":)");
    append_timestamp(e.updated_at_s, out);
    out.push_back('}');
}

}  // namespace

namespace {

// The cursor parameter: absent or empty starts from the beginning; anything
// else must be a cursor this server issued for this namespace and prefix
// (undecodable percent-encoding or text too long for any cursor included).
std::optional<net::http::error> read_cursor(const cursor_codec& codec, plan& p) {
    char cursor_storage[cursor_codec::text_bytes_max];
    const query_value cursor = find_query(p.query, "cursor", cursor_storage);
    p.after_bytes = 0;
    if (!cursor.present || (!cursor.malformed && cursor.value.empty())) return std::nullopt;
    const auto after = cursor.malformed ? std::nullopt : codec.decode(cursor.value, p.namespace_number, p.prefix_view(), p.after);
    if (!after) {
        return net::http::error{400, error_code::bad_request, "the cursor was not issued for this listing",
                                error_source::parameter("cursor")};
    }
    p.after_bytes = std::uint16_t(after->size());
    return std::nullopt;
}

}  // namespace

io::task<> list_keys(const api_options& options, plan& p, net::http::response_writer& writer) {
    const cursor_codec codec(options.cursor_secret);
    if (const auto e = read_cursor(codec, p)) {
        net::http::write_error(writer, *e);
        co_return;
    }
    // Scatter: each core returns its first limit+1 keys after the cursor
    // (one more than a page, to learn whether more follow). A prefix longer
    // than any key matches nothing: no core is asked.
    const unsigned cores = io::loop::current().core_count();
    listing_buffers buffers(cores, p.limit + 1u);
    // Every core is asked at once; each writes only its own part.
    if (!p.prefix_matches_nothing) {
        co_await io::submit_to_all([&p, &buffers](unsigned core) { list_on_owner(p, p.limit + 1u, buffers[core]); });
    }
    // Gather: a k-way merge of the sorted per-core lists, at most `limit` keys.
    std::string& out = reply_buffer();
    out.append(R"({"record_type":"storage_kv_key","data":[)");
    std::string_view last;
    std::size_t emitted = 0, total = 0;
    for (unsigned core = 0; core < cores; ++core) total += buffers[core].entries.size();
    while (emitted < p.limit) {
        core_listing* best = nullptr;
        for (unsigned core = 0; core < cores; ++core) {
            core_listing& part = buffers[core];
            if (!part.exhausted() && (best == nullptr || part.key(part.front()) < best->key(best->front()))) best = &part;
        }
        if (best == nullptr) break;
        const core_listing::entry& e = best->entries[best->next++];
        last = best->key(e);
        if (emitted++ != 0) out.push_back(',');
        append_entry(last, e, out);
    }
    const bool has_more = emitted != 0 && total > emitted;
    out.append(R"(],"meta":{"has_more":)");
    out.append(has_more ? "true" : "false");
    if (has_more) {
        out.append(R"(,"cursor":")");
        codec.encode(p.namespace_number, p.prefix_view(), last, out);
        out.push_back('"');
    }
    out.append("}}");
    writer.write(200, "application/json", out);
}

}  // namespace ringkv::api
