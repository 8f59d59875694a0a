#include <ringkv/store/key_table.hh>

#include <ringkv/base/assert.hh>
#include <ringkv/store/sharding.hh>

#include <new>

namespace ringkv::store {
namespace {

constexpr std::uint64_t empty_slot = 0;
constexpr std::uint64_t tombstone_slot = 1;
constexpr int tag_shift = 48;
constexpr std::uint64_t pointer_mask = (std::uint64_t(1) << tag_shift) - 1;

std::uint64_t tag_of(std::uint64_t hash) { return (hash >> 40) & 0xffff; }
std::uint64_t encode(std::uint64_t hash, item* i) {
    const auto bits = reinterpret_cast<std::uintptr_t>(i);
    RINGKV_DEBUG_ASSERT((bits & ~pointer_mask) == 0);  // x86-64/arm64 user pointers fit in 48 bits
    return (tag_of(hash) << tag_shift) | bits;
}
item* item_of(std::uint64_t slot) { return reinterpret_cast<item*>(slot & pointer_mask); }
bool holds_item(std::uint64_t slot) { return slot > tombstone_slot; }

// Load limit: items and tombstones together at most 7/8 of the slots.
bool over_load(std::size_t used, std::size_t capacity) { return used * 8 > capacity * 7; }

// The owner is the only writer: its own loads need no ordering.
std::uint64_t owner_load(const std::atomic<std::uint64_t>& slot) { return slot.load(std::memory_order_relaxed); }

}  // namespace

void key_table::publish(std::atomic<std::uint64_t>& slot, std::uint64_t value) {
    slot.store(value, std::memory_order_release);
    if (_interleaving != nullptr) _interleaving->after_publish();
}

key_table::key_table(reclaimer* retired) : _retired(retired), _now(make_table(capacity_min)), _head(_now) {
    RINGKV_ASSERT(_now != nullptr);
}

key_table::~key_table() {
    // No reader remains (shutdown): items go now, tables with them.
    for (table* t : {_now, _old}) {
        if (t == nullptr) continue;
        for (std::size_t s = 0; s < t->capacity; ++s) {
            const std::uint64_t slot = owner_load(t->slots[s]);
            if (holds_item(slot)) item_of(slot)->release();
        }
        free_table(t);
    }
}

std::size_t key_table::collect(const item** out) const {
    // Branch-free: each slot's pointer is stored at the end, and the end
    // moves past it only when the slot holds an item. About half the slots
    // do, at random, so a branch on it would be mispredicted every other
    // slot: at 1M slots that was milliseconds of the loop's time.
    std::size_t count = 0;
    for (const table* t : {_now, _old}) {
        if (t == nullptr) continue;
        for (std::size_t s = 0; s < t->capacity; ++s) {
            const std::uint64_t slot = owner_load(t->slots[s]);
            out[count] = item_of(slot);
            count += holds_item(slot) ? 1 : 0;
        }
    }
    RINGKV_DEBUG_ASSERT(count == _size);
    return count;
}

key_table::table* key_table::make_table(std::size_t capacity) {
    auto* t = new (std::nothrow) table(capacity);
    if (t == nullptr) return nullptr;
    t->slots.reset(new (std::nothrow) std::atomic<std::uint64_t>[capacity]());  // zeroed: all empty
    if (t->slots == nullptr) {
        delete t;
        return nullptr;
    }
    return t;
}

void key_table::free_table(void* t) { delete static_cast<table*>(t); }

key_table::position key_table::probe(table& t, std::uint64_t hash, std::uint32_t namespace_number,
                                     std::string_view key) {
    const std::size_t mask = t.capacity - 1;
    const std::uint64_t tag = tag_of(hash);
    for (std::size_t s = hash & mask, probes = 0; probes < t.capacity; s = (s + 1) & mask, ++probes) {
        const std::uint64_t slot = owner_load(t.slots[s]);
        if (slot == empty_slot) break;
        if (slot == tombstone_slot || (slot >> tag_shift) != tag) continue;
        const item* i = item_of(slot);
        if (i->namespace_number() == namespace_number && i->key() == key) return {&t, s};
    }
    return {};
}

key_table::position key_table::locate(std::uint64_t hash, std::uint32_t namespace_number,
                                      std::string_view key) const {
    // The owner never races itself, so newest-first is right here (and
    // finds recent keys sooner); readers must go oldest-first.
    position p = probe(*_now, hash, namespace_number, key);
    if (p.where == nullptr && migrating()) p = probe(*_old, hash, namespace_number, key);
    return p;
}

item* key_table::find(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) const {
    const position p = locate(hash, namespace_number, key);
    return p.where == nullptr ? nullptr : item_of(owner_load(p.where->slots[p.slot]));
}

const item* key_table::find_concurrent(std::uint64_t hash, std::uint32_t namespace_number,
                                       std::string_view key) const {
    const std::uint64_t tag = tag_of(hash);
    // Oldest table first, then newer ones: an item is placed in the newer
    // table before its old slot turns into a tombstone, so a reader that
    // passed that tombstone (acquire) finds it further on (rhashtable's rule).
    for (const table* t = _head.load(std::memory_order_acquire); t != nullptr;
         t = t->future.load(std::memory_order_acquire)) {
        const std::size_t mask = t->capacity - 1;
        for (std::size_t s = hash & mask, probes = 0; probes < t->capacity; s = (s + 1) & mask, ++probes) {
            // One load: the tag and the pointer always belong together.
            const std::uint64_t slot = t->slots[s].load(std::memory_order_acquire);
            if (slot == empty_slot) break;
            if (slot == tombstone_slot || (slot >> tag_shift) != tag) continue;
            const item* i = item_of(slot);
            if (i->namespace_number() == namespace_number && i->key() == key) return i;
        }
        if (_interleaving != nullptr) _interleaving->between_tables();
    }
    return nullptr;
}

void key_table::place(table& t, std::uint64_t hash, item* i) {
    const std::size_t mask = t.capacity - 1;
    std::size_t s = hash & mask;
    while (holds_item(owner_load(t.slots[s]))) s = (s + 1) & mask;
    if (owner_load(t.slots[s]) == tombstone_slot) --t.tombstones; else ++t.used;
    publish(t.slots[s], encode(hash, i));
}

item* key_table::upsert(std::uint64_t hash, item* fresh) {
    migrate_some();
    const position p = locate(hash, fresh->namespace_number(), fresh->key());
    if (p.where != nullptr) {
        item* replaced = item_of(owner_load(p.where->slots[p.slot]));
        publish(p.where->slots[p.slot], encode(hash, fresh));
        return replaced;
    }
    make_room();
    place(*_now, hash, fresh);
    ++_size;
    return nullptr;
}

item* key_table::erase(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) {
    migrate_some();
    const position p = locate(hash, namespace_number, key);
    if (p.where == nullptr) return nullptr;
    item* removed = item_of(owner_load(p.where->slots[p.slot]));
    publish(p.where->slots[p.slot], tombstone_slot);
    ++p.where->tombstones;
    --_size;
    return removed;
}

// Before an insert: start growing when the live table is too full. A table
// full mostly of tombstones is rebuilt at the same size instead of doubled.
// If the new table cannot be allocated, the insert goes ahead in the full
// one while it has room (the next insert tries to grow again); the memory
// budget (shard.hh) counts growth in advance, so this is the allocator
// failing below the budget, not the normal way to run out.
void key_table::make_room() {
    if (!over_load(_now->used + 1, _now->capacity)) return;
    while (migrating()) migrate_some();  // finish the previous move first (rare: it is far along)
    const bool mostly_tombstones = _now->tombstones * 2 > _now->used;
    const std::size_t capacity = mostly_tombstones ? _now->capacity : _now->capacity * 2;
    RINGKV_ASSERT(capacity <= capacity_max);
    table* fresh = make_table(capacity);
    if (fresh == nullptr) {
        // Linear probing needs an empty slot to end a miss.
        RINGKV_ASSERT(_now->used + 2 <= _now->capacity);
        return;
    }
    // Readers reach the new table through the old one, from now on; the
    // head stays on the old table until every item has left it.
    _now->future.store(fresh, std::memory_order_release);
    _old = _now;
    _now = fresh;
    _migrated = 0;
    migrate_some();
}

std::size_t key_table::capacity_for(std::size_t keys) {
    std::size_t capacity = capacity_min;
    while (over_load(keys, capacity) && capacity < capacity_max) capacity *= 2;
    return capacity;
}

void key_table::reserve(std::size_t keys) {
    if (_size != 0 || _now->used != 0 || migrating()) return;
    const std::size_t capacity = capacity_for(keys);
    if (capacity <= _now->capacity) return;
    table* fresh = make_table(capacity);
    if (fresh == nullptr) return;
    _now->future.store(fresh, std::memory_order_release);
    _head.store(fresh, std::memory_order_release);
    const std::size_t bytes = _now->capacity * sizeof(std::uint64_t) + sizeof(table);
    if (_retired != nullptr) _retired->retire(_now, &free_table, bytes);
    else free_table(_now);
    _now = fresh;
}

std::size_t key_table::growth_bytes_on_insert() const {
    return over_load(_now->used + 1, _now->capacity) ? _now->capacity * 2 * sizeof(std::uint64_t) : 0;
}

void key_table::migrate_some() {
    if (!migrating()) return;
    const std::size_t end = std::min(_old->capacity, _migrated + migration_step_slots);
    for (; _migrated < end; ++_migrated) {
        const std::uint64_t slot = owner_load(_old->slots[_migrated]);
        if (!holds_item(slot)) continue;
        item* i = item_of(slot);
        place(*_now, key_hash(i->namespace_number(), i->key()), i);  // published first...
        // ...then a tombstone, never empty: later probes of the old table
        // must still pass here, and a reader that sees it finds the item in
        // the newer table.
        publish(_old->slots[_migrated], tombstone_slot);
    }
    if (_migrated < _old->capacity) return;
    _head.store(_now, std::memory_order_release);
    const std::size_t bytes = _old->capacity * sizeof(std::uint64_t) + sizeof(table);
    if (_retired != nullptr) _retired->retire(_old, &free_table, bytes);
    else free_table(_old);
    _old = nullptr;
}

}  // namespace ringkv::store
