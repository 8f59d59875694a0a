#include <ringkv/store/shard.hh>

#include <ringkv/store/sharding.hh>

namespace ringkv::store {

shard::~shard() {  // the key table releases every item
    thaw();
    retire_thawed(SIZE_MAX);
}

bool shard::fits(std::size_t charge, std::uint64_t hash, std::uint32_t namespace_number,
                 std::string_view key) const {
    // Fast path: fits even as a new key that makes the table grow. What
    // waits for its grace period still takes memory, so it counts too, and
    // so does what a freeze keeps (and, frozen, the slots recording the
    // new item as born may need).
    const std::size_t used = used_bytes();
    if (used + charge + _table.growth_bytes_on_insert() <= _memory_bytes_max) return true;
    // An overwrite cannot grow the table, and with no other reader it frees
    // the item it replaces (live or expired) at once; otherwise that item
    // waits for its grace period (or, frozen and in the cut, for the thaw),
    // still counted.
    const item* old = _table.find(hash, namespace_number, key);
    if (old == nullptr) return false;
    const bool freed_at_once = _retired.frees_at_once() && (!_frozen || _born.contains(old));
    const std::size_t freed = freed_at_once ? charge_of(old->allocation_bytes()) : 0;
    return used - freed + charge <= _memory_bytes_max;
}

shard::put_result shard::put(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key,
                             std::string_view value, std::string_view content_type, std::uint64_t ttl_ms,
                             instant now) {
    const bool with_ttl = ttl_ms != 0;
    const item::stored_type type = item::classify(content_type);  // one table look-up for both uses
    const std::size_t charge = charge_of(item::allocation_bytes(key.size(), value.size(), type, with_ttl));
    if (!fits(charge, hash, namespace_number, key)) return refuse_for_room(charge);
    item* fresh = item::create(namespace_number, key, value, type, std::uint32_t(hash), now.wall_s, with_ttl);
    if (fresh == nullptr) return refuse_for_room(charge);
    // Frozen, recorded as born (in no cut); the set may fail to grow.
    if (_frozen && !_born.insert(fresh)) {
        fresh->release();  // its only reference: freed, nothing published
        return refuse_for_room(charge);
    }
    // Built in full before upsert() publishes it (I2): readers on other
    // cores test the deadline without a message.
    if (with_ttl) fresh->ttl().at_ms = now.monotonic_ms + ttl_ms;
    _item_bytes += charge;
    _value_bytes += value.size();
    item* old = _table.upsert(hash, fresh);
    ordered_index& index = _namespaces[namespace_number];
    const bool was_live = old != nullptr && !old->expired(now.monotonic_ms);
    if (old != nullptr) {
        index.replace(old, fresh);
        if (old->has_ttl()) _wheel.cancel(*old);
        const std::size_t old_charge = charge_of(old->allocation_bytes());
        _item_bytes -= old_charge;
        _value_bytes -= old->value_bytes();
        if (!was_live) ++_expired_total;
        let_go(old, old_charge);
    } else {
        index.insert(fresh);
    }
    if (with_ttl) _wheel.insert(*fresh);
    return was_live ? put_result::replaced : put_result::created;
}

void shard::reserve(std::size_t keys) {
    // Checked against the budget before the slots are allocated.
    const std::size_t slot_bytes = key_table::capacity_for(keys) * sizeof(std::uint64_t);
    if (memory_bytes() + slot_bytes > _memory_bytes_max) return;
    _table.reserve(keys);
}

item_ref shard::get(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key, instant now) {
    item* found = _table.find(hash, namespace_number, key);
    if (found == nullptr) return {};
    if (found->expired(now.monotonic_ms)) {  // never served, even before the wheel reclaims it
        ++_expired_total;
        unlink(*found, true);
        return {};
    }
    return item_ref(found);
}

bool shard::erase(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) {
    item* found = _table.find(hash, namespace_number, key);
    if (found != nullptr) unlink(*found, true);
    return found != nullptr;
}

void shard::unlink(item& i, bool in_wheel) {
    const std::uint64_t hash = key_hash(i.namespace_number(), i.key());
    _table.erase(hash, i.namespace_number(), i.key());
    auto index = _namespaces.find(i.namespace_number());
    RINGKV_ASSERT(index != _namespaces.end());
    index->second.erase(&i);
    if (index->second.size() == 0) _namespaces.erase(index);
    if (in_wheel && i.has_ttl()) _wheel.cancel(i);
    const std::size_t charge = charge_of(i.allocation_bytes());
    _item_bytes -= charge;
    _value_bytes -= i.value_bytes();
    let_go(&i, charge);
}

void shard::let_go(item* i, std::size_t charge) {
    // An item born while frozen is in no cut: only the cut's items must
    // outlive the freeze (see _born for why the test is sound).
    if (!_frozen) return _retired.retire(i, charge);
    if (_born.erase(i)) {
        _retired.retire(i, charge);
    } else {
        _kept.push_back(i);
        _kept_bytes += charge + kept_entry_bytes;
    }
}

void shard::freeze(frozen_items& out) {
    RINGKV_ASSERT(!_frozen);
    RINGKV_DEBUG_ASSERT(_born.size() == 0);
    const std::size_t needed = _table.size() + 1;  // collect() may store one past the last item
    if (out.room < needed) {
        out.room = needed + needed / 8;  // some growth before the next reallocation
        out.pointers.reset(new const item*[out.room]);  // not zeroed: collect() writes what it counts
    }
    out.count = _table.collect(out.pointers.get());
    _freeze_buffer_bytes = out.room * sizeof(const item*);
    _frozen = true;
}

void shard::thaw() {
    _frozen = false;
    _born.clear();  // O(1): the born items stay in the table, and are in the next cut
    _thawed_charges += _kept_bytes - _kept.size() * kept_entry_bytes;
    if (_thawed.empty()) {
        _thawed.swap(_kept);  // O(1); _kept takes the empty one's room
    } else {
        // Room for exactly both (the list's room is counted as it is: a
        // doubling here would count more after the thaw than before it).
        _thawed.reserve(_thawed.size() + _kept.size());
        _thawed.insert(_thawed.end(), _kept.begin(), _kept.end());
        _kept.clear();
        _kept.shrink_to_fit();  // its room is counted only while frozen
    }
    _kept_bytes = 0;
}

void shard::retire_thawed(std::size_t items_max) {
    for (std::size_t n = 0; n < items_max && !_thawed.empty(); ++n) {
        item* i = _thawed.back();
        _thawed.pop_back();
        const std::size_t charge = charge_of(i->allocation_bytes());
        _thawed_charges -= charge;
        _retired.retire(i, charge);
    }
    if (_thawed.empty()) {
        RINGKV_DEBUG_ASSERT(_thawed_charges == 0);
        _thawed.shrink_to_fit();
    }
}

void shard::list(std::uint32_t namespace_number, std::string_view prefix, std::string_view after, std::size_t limit,
                 instant now, std::vector<list_entry>& out) {
    auto index = _namespaces.find(namespace_number);
    if (index == _namespaces.end() || limit == 0) return;
    std::size_t taken = 0;
    index->second.scan(prefix, after, [&](const item& i) {
        if (!i.expired(now.monotonic_ms)) {
            out.push_back({i.key(), i.value_bytes(), i.updated_at_s()});
            ++taken;
        }
        return taken < limit;
    });
}

void shard::drop_namespace(std::uint32_t namespace_number) {
    if (_namespaces.contains(namespace_number)) _dropping.push_back(namespace_number);
}

bool shard::background_step(instant now, step_budget budget) {
    const auto out_of_time = [&budget] { return budget.clock_ns != nullptr && budget.clock_ns() >= budget.deadline_ns; };
    std::size_t done = 0;
    _wheel.advance(now.monotonic_ms);
    bool more = true;
    while (more && done < budget.items_max) {
        const std::size_t chunk = std::min(check_every_items, budget.items_max - done);
        std::size_t purged = 0;
        // Purge dropped namespaces first, a root at a time (each O(log n)).
        while (purged < chunk && !_dropping.empty()) {
            auto index = _namespaces.find(_dropping.back());
            if (index == _namespaces.end()) {  // emptied: the last unlink erased the index
                _dropping.pop_back();
                continue;
            }
            unlink(*index->second.root(), true);
            ++purged;
        }
        const bool more_expiry = _wheel.step(chunk - purged, [this](item& i) {
            ++_expired_total;
            unlink(i, false);
        });
        more = more_expiry || !_dropping.empty();
        done += chunk;
        if (out_of_time()) break;
    }
    return more;
}

}  // namespace ringkv::store
