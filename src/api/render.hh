#pragma once
// JSON bodies of the API's answers, appended to a caller's buffer.

#include <ringkv/store/namespaces.hh>

#include <cstdint>
#include <optional>
#include <string>

namespace ringkv::api {

// {"record_type":"storage_kv","id":...,"name":...,"status":...,"created_at":...,"updated_at":...}
// status_override: what a create (pending) or a delete (deleting) answers,
// whatever the delays make of the status a moment later.
void render_namespace(const store::namespace_record& record, std::uint64_t now_ms, std::string& out,
                      std::optional<store::namespace_status> status_override = std::nullopt);

void append_timestamp(std::uint32_t seconds, std::string& out);

// The core's buffer for a JSON reply, emptied: reused by every reply, so
// bodies allocate nothing once it has grown. Use it and write the response
// before the next suspension.
std::string& reply_buffer();
void append_number(std::uint64_t n, std::string& out);

}  // namespace ringkv::api
