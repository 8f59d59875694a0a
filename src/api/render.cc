#include "render.hh"

#include "text.hh"

#include <ringkv/base/decimal.hh>
#include <charconv>

namespace ringkv::api {

void append_number(std::uint64_t n, std::string& out) { base::append_decimal(out, n); }

std::string& reply_buffer() {
    thread_local std::string buffer;
    buffer.clear();
    return buffer;
}

void append_timestamp(std::uint32_t seconds, std::string& out) {
    char text[rfc3339_bytes];
    format_rfc3339(seconds, text);
    out.push_back('"');
    out.append(text, rfc3339_bytes);
    out.push_back('"');
}

void render_namespace(const store::namespace_record& record, std::uint64_t now_ms, std::string& out,
                      std::optional<store::namespace_status> status_override) {
    char id[store::uuid::text_bytes];
    record.id.format(id);
    const store::namespace_status status = status_override.value_or(record.status(now_ms));
    out.append(R"({"record_type":"storage_kv","id":")");
    out.append(id, sizeof(id));
    out.append(R"(","name":")");
    out.append(record.name);  // [a-z0-9-]: nothing to escape
    out.append(R"(","status":")");
    out.append(store::status_name(status));
    out.append(R"(","created_at":)");
    append_timestamp(record.created_at_s, out);
    out.append(R"(,"updated_at":)");
    std::uint32_t updated = record.updated_at_s(now_ms);
    if (status == store::namespace_status::pending) updated = record.created_at_s;
    if (status == store::namespace_status::deleting) updated = record.delete_requested_at_s;
    append_timestamp(updated, out);
    out.push_back('}');
}

}  // namespace ringkv::api
