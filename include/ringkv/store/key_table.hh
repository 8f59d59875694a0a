#pragma once
// A core's hash table of items, keyed by (namespace number, key).
//
// Open addressing with linear probing over 8-byte slots: the item pointer in
// the low 48 bits and 16 bits of its hash above them, so most probes that
// miss never touch the item. Deletion leaves a tombstone; tombstones count
// toward the load, and a table too full of them is rebuilt at the same size.
//
// Growth is incremental (no stop-the-world rehash): a new table of twice the
// size is allocated and every later operation moves a bounded number of
// slots from the old one (migration_step_slots), so a million-key table
// moves across over many requests. Lookups check both tables meanwhile.
//
// One writer, any number of readers (concurrent_read.hh): only the owner
// core calls the non-const members; find_concurrent() may run on any core,
// with no lock, inside a read section. Slots are atomics written with
// release stores; a slot never returns to empty; an item moves to the newer
// table before its old slot becomes a tombstone, and readers start from the
// oldest live table and follow `future` on a miss. Replaced and erased
// items are the caller's to retire; old tables go to the reclaimer.
//
// Bounds: capacity is a power of two, at most capacity_max slots; the load
// (items + tombstones) stays at or below 7/8 of it before growth.

#include <ringkv/store/item.hh>
#include <ringkv/store/reclaimer.hh>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace ringkv::store {

class key_table {
public:
    static constexpr std::size_t capacity_min = 64;
    static constexpr std::size_t capacity_max = std::size_t(1) << 32;
    static constexpr std::size_t migration_step_slots = 64;

    // retired: where old tables go once grown out of; nullptr when nothing
    // reads concurrently (they are freed at once).
    explicit key_table(reclaimer* retired = nullptr);
    ~key_table();
    key_table(const key_table&) = delete;
    key_table& operator=(const key_table&) = delete;

    // The item for (namespace, key), or nullptr. hash = key_hash(...).
    // Owner thread only.
    item* find(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) const;
    // The same from any thread, inside a read section (concurrent_read.hh):
    // the item may be replaced or unlinked meanwhile, and stays readable
    // until the reader's next quiescent state. It may be expired.
    const item* find_concurrent(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) const;
    // Inserts `fresh`, or replaces the item with its key. Returns the item it
    // replaced (the caller releases it) or nullptr.
    item* upsert(std::uint64_t hash, item* fresh);
    // Removes and returns the item for (namespace, key), or nullptr.
    item* erase(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key);

    // Start-up loading: makes an empty table big enough for `keys` items
    // (within the load limit), so inserting them never grows it. Does
    // nothing when the table holds anything (or ever did), is already that
    // big, or the allocation fails. Readers that could be on the small
    // table follow `future` to the new one.
    void reserve(std::size_t keys);
    // The capacity reserve(keys) gives an empty table.
    static std::size_t capacity_for(std::size_t keys);
    // A hint before a batch of inserts: starts loading the slot a key
    // with this hash probes first (owner only).
    void prefetch(std::uint64_t hash) const { __builtin_prefetch(&_now->slots[hash & (_now->capacity - 1)]); }

    // Stores every item the table holds (live or expired, not yet
    // reclaimed) into `out`, in no particular order: a snapshot's view of
    // the table. `out` has room for size() + 1 (the last store may land
    // one past the last item). Returns how many it stored.
    std::size_t collect(const item** out) const;

    std::size_t size() const { return _size; }
    std::size_t capacity() const { return _now->capacity; }
    bool migrating() const { return _old != nullptr; }
    std::size_t tombstones() const { return _now->tombstones + (migrating() ? _old->tombstones : 0); }
    // Bytes of slot arrays held (both tables while growing): charged to the
    // core's memory budget with its items.
    std::size_t slot_bytes() const {
        return (_now->capacity + (migrating() ? _old->capacity : 0)) * sizeof(std::uint64_t);
    }
    // Slot bytes the next insert of a new key may allocate: when it would
    // pass the load limit, always a doubled table (twice the current
    // capacity), even when make_room() will in fact rebuild a table full of
    // tombstones at the same size. An overestimate, on purpose: it is cheap,
    // never lets growth pass the budget, and only errs toward 507 for a new
    // key in a table at its load limit. 0 when no growth is due.
    std::size_t growth_bytes_on_insert() const;

    // A test seam: the two points where a reader and the owner interleave,
    // so that tests can run the owner's code at exactly that moment, on one
    // thread, and each trap of the protocol gets a deterministic test
    // (tests/unit/store/concurrent_read_test.cc). Off (nullptr) in the
    // server, where it costs a predictable branch per slot store and per
    // table a find_concurrent() probes. Set it before any other thread runs.
    class interleaving {
    public:
        // After each slot store of the owner: an insert, a replacement, an
        // erase, and in growth each item placed and each old slot emptied.
        virtual void after_publish() = 0;
        // In find_concurrent(), after a miss in one table and before it
        // reads whether a newer one exists.
        virtual void between_tables() = 0;

    protected:
        ~interleaving() = default;
    };
    void interleave(interleaving* with) { _interleaving = with; }

private:
    struct table {
        explicit table(std::size_t slot_count) : capacity(slot_count) {}
        const std::size_t capacity;  // a power of two
        std::unique_ptr<std::atomic<std::uint64_t>[]> slots;
        // The table this one is being migrated into, set before any item
        // leaves this one; readers continue there after a miss.
        std::atomic<const table*> future{nullptr};
        std::size_t used = 0;        // items and tombstones (owner only)
        std::size_t tombstones = 0;  // (owner only)
    };
    // Where a lookup ended: the table and slot holding the item, if found.
    struct position {
        table* where = nullptr;
        std::size_t slot = 0;
    };

    // An empty table, or nullptr when the allocation fails.
    static table* make_table(std::size_t capacity);
    static void free_table(void* t);
    static position probe(table& t, std::uint64_t hash, std::uint32_t namespace_number, std::string_view key);
    position locate(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) const;
    void place(table& t, std::uint64_t hash, item* i);
    // Every slot store of the owner: release, so whatever it built before
    // is visible to a reader whose acquire load sees the new value (I2).
    void publish(std::atomic<std::uint64_t>& slot, std::uint64_t value);
    void migrate_some();
    void make_room();

    reclaimer* _retired;
    table* _now;
    table* _old = nullptr;  // being migrated into _now; nullptr when not growing
    // The oldest live table (_old while growing, else _now): where readers
    // start.
    std::atomic<const table*> _head;
    std::size_t _migrated = 0;  // slots of _old already moved
    std::size_t _size = 0;
    interleaving* _interleaving = nullptr;
};

}  // namespace ringkv::store
