#include "owner.hh"

namespace ringkv::api {

put_outcome put_on_owner(core_state& state, const put_order& order, store::instant now,
                         store::change_log::ticket* ticket) {
    const store::namespace_record* record = state.namespaces.find_number(order.namespace_number);
    if (record == nullptr) return put_outcome::namespace_gone;
    switch (record->status(now.monotonic_ms)) {
        case store::namespace_status::gone: return put_outcome::namespace_gone;
        case store::namespace_status::deleting: return put_outcome::namespace_deleting;
        // Pending here but provision_ok on the coordinator: this core's clock
        // is a tick behind; the coordinator's view stands.
        case store::namespace_status::pending:
        case store::namespace_status::provision_ok: break;
    }
    if (state.changes != nullptr && !state.changes->accepting()) return put_outcome::storage_full;
    const store::shard::put_result stored = state.keys.put(order.hash, order.namespace_number, order.key, order.value,
                                                           order.content_type, order.ttl_ms, now);
    if (stored == store::shard::put_result::memory_full) return put_outcome::memory_full;
    if (state.changes != nullptr) {
        const std::uint64_t expires_at_ms = order.ttl_ms == 0 ? 0 : now.monotonic_ms + order.ttl_ms;
        const store::change_log::ticket t = state.changes->put(order.namespace_number, order.key, order.value,
                                                               order.content_type, now.wall_s, expires_at_ms);
        if (ticket != nullptr) *ticket = t;
    }
    return stored == store::shard::put_result::created ? put_outcome::created : put_outcome::replaced;
}

std::optional<store::change_log::ticket> erase_on_owner(core_state& state, std::uint64_t hash,
                                                        std::uint32_t namespace_number, std::string_view key) {
    if (state.changes != nullptr && !state.changes->accepting()) return std::nullopt;
    const bool erased = state.keys.erase(hash, namespace_number, key);
    return erased && state.changes != nullptr ? state.changes->erase(namespace_number, key) : 0;
}

}  // namespace ringkv::api
