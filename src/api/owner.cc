#include "owner.hh"

namespace ringkv::api {

put_outcome put_on_owner(core_state& state, const put_order& order, store::instant now) {
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
    switch (state.keys.put(order.hash, order.namespace_number, order.key, order.value, order.content_type,
                           order.ttl_ms, now)) {
        case store::shard::put_result::created: return put_outcome::created;
        case store::shard::put_result::replaced: return put_outcome::replaced;
        case store::shard::put_result::memory_full: return put_outcome::memory_full;
    }
    return put_outcome::memory_full;
}

}  // namespace ringkv::api
