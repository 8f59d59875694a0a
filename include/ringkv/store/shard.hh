#pragma once
// The keys one core owns: its hash table, an ordered index per namespace,
// its timer wheel and its memory budget. No I/O, no threads, no clock: every
// call gets "now", so tests drive it with a manual clock. Only the owning
// core calls it (the coordinator sends it messages).
//
// Memory budget: the shard counts what it holds, memory_bytes() = for each
// item its allocation plus allocator_overhead_bytes, plus the key table's
// slot arrays, plus the snapshot's buffers (see freeze()), and refuses a
// put that would take it past memory_bytes_max (put_result::memory_full;
// the API answers 507). It counts net of what the put replaces, including
// the table growth a new key may cause, so an overwrite with a smaller
// value fits again, and so does any write once what a delete retired has
// been freed (once every other core has passed a loop iteration, and the
// owner's iterations have freed it, a step each). The bytes of an
// item stay in the count until it is freed: unlinked by the table (delete,
// replace, expiry, namespace purge), then retired while other cores may
// still read it (reclaimer::bytes_waiting()), or kept for a snapshot
// (kept_bytes()), and held a little longer by a reader still sending it.
// Not counted here: the per-namespace index headers (a few dozen bytes per
// namespace with keys on this core, bounded by the namespace limits) and
// the timer wheel's fixed lists.
//
// Other cores read the shard without a message through find_concurrent()
// (the protocol: concurrent_read.hh). What the owner unlinks is retired,
// not freed: it leaves memory_bytes() at once and is freed by the
// reclaimer once no reader can hold it (retired() reports what waits).

#include <ringkv/base/quiescent_state.hh>
#include <ringkv/store/item.hh>
#include <ringkv/store/key_table.hh>
#include <ringkv/store/ordered_index.hh>
#include <ringkv/store/pointer_set.hh>
#include <ringkv/store/reclaimer.hh>
#include <ringkv/store/timer_wheel.hh>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringkv::store {

struct instant {
    std::uint64_t monotonic_ms = 0;
    std::uint32_t wall_s = 0;  // seconds since 1970 (good until 2106)
};

struct list_entry {
    std::string_view key;   // valid until the shard changes (the coordinator copies it)
    std::uint32_t size_bytes;
    std::uint32_t updated_at_s;
};

// How much one background step may do: at most items_max items, and, when
// a clock is given, no more once it reads deadline_ns (checked every
// shard::check_every_items items). The store itself keeps no clock.
struct step_budget {
    std::size_t items_max = 2048;
    std::uint64_t (*clock_ns)() = nullptr;
    std::uint64_t deadline_ns = 0;
};

class shard {
public:
    // What malloc adds to each allocation (glibc: an 8-byte header, sizes
    // rounded up to 16): counted so that a million small keys are not
    // undercounted by 16 MB.
    static constexpr std::size_t allocator_overhead_bytes = 16;
    static constexpr std::size_t unbounded = SIZE_MAX;

    // readers: the quiescent states of the cores that read this shard
    // concurrently, self: this shard's core among them; nullptr when only
    // the owner's thread touches it (unlinked items are freed at once).
    explicit shard(std::uint64_t now_ms, std::size_t memory_bytes_max = unbounded,
                   const base::quiescent_states* readers = nullptr, unsigned self = 0)
        : _retired(readers, self), _table(&_retired), _wheel(now_ms), _memory_bytes_max(memory_bytes_max) {}
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    enum class put_result { created, replaced, memory_full };
    // ttl_ms == 0: no expiry (and clears an earlier one). content_type is at
    // most item::content_type_bytes_max bytes. memory_full: over the budget,
    // or the allocation failed; nothing changed.
    put_result put(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key, std::string_view value,
                   std::string_view content_type, std::uint64_t ttl_ms, instant now);
    // A reference to the live item, or empty when missing or expired.
    // Owner only (it unlinks an expired item it meets).
    item_ref get(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key, instant now);
    // The live item from any core, inside a read section (concurrent_read.hh),
    // or nullptr when missing or expired at now_ms. Unlinks nothing.
    const item* find_concurrent(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key,
                                std::uint64_t now_ms) const {
        const item* found = _table.find_concurrent(hash, namespace_number, key);
        return found == nullptr || found->expired(now_ms) ? nullptr : found;
    }
    // Whether a key (live or expired) was there to remove.
    bool erase(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key);
    // Up to `limit` live keys > after with the prefix, in order, appended to out.
    void list(std::uint32_t namespace_number, std::string_view prefix, std::string_view after, std::size_t limit,
              instant now, std::vector<list_entry>& out);
    // Purges a namespace's keys over the next background steps. The caller
    // stops asking for them at once (the namespace is gone or deleting).
    void drop_namespace(std::uint32_t namespace_number);

    // Start-up loading: sizes the empty key table for `keys` new keys at
    // once, so that putting them never grows it (no incremental migration
    // while a million keys go in). Only when the table's slots fit the
    // memory budget; otherwise the puts grow it as usual (and meet the
    // budget as usual).
    void reserve(std::size_t keys);
    // A hint ahead of a put in a bulk load: see key_table::prefetch.
    void prefetch(std::uint64_t hash) const { _table.prefetch(hash); }

    static constexpr std::size_t check_every_items = 64;

    // Expiry and purging, bounded; returns true while work remains.
    bool background_step(instant now, step_budget budget = {});

    // Item pointers a freeze collects, in a buffer kept from one snapshot
    // to the next: a cut then touches no fresh page (a page fault for each
    // 4 KiB of a new buffer was a third of the cut's time at 1M keys).
    // Bound: room for the most items any cut held, plus an eighth.
    struct frozen_items {
        std::unique_ptr<const item*[]> pointers;
        std::size_t room = 0;
        std::size_t count = 0;
        std::span<const item* const> view() const { return {pointers.get(), count}; }
    };

    // Snapshots: collects every item the table holds now (the cut) into
    // `out`, and from then until thaw() keeps each item of the cut that the
    // shard lets go of (replaced, deleted, expired, purged) alive on a list
    // instead of retiring it, so the pointers in `out` stay valid while a
    // snapshot writer reads them in steps. Items are immutable, so the view
    // is the table at this instant. An item put() makes while frozen is not
    // in the cut: when it is let go before the thaw, it is retired as usual.
    // So the list holds each key's cut version at most once, whatever the
    // writes of a snapshot's duration (a paced one lasts seconds) do: a
    // tenant's kept bytes are at most what it stored at the cut, and one
    // key overwritten again and again keeps one old version. The kept items
    // are not in memory_bytes(), but fits() counts them against
    // memory_bytes_max, so while frozen a write that they leave no room for
    // is refused (memory_full) as if they were still live. thaw() passes
    // them on to be retired (other cores may have read them just before),
    // thaw_step_items per end_iteration(), still counted until then: one
    // item per key a snapshot's writes replaced is a long list under heavy
    // writes, and retiring and freeing it whole stalled the loop (4.8-9.2 ms
    // at 36K items, 12-26 ms at 92K; a step of 1,024 takes 0.2-0.3 ms).
    // A freeze may come before they are all retired: they are in no cut.
    // Counted in memory_bytes() from the freeze on: `out`'s room (8 bytes
    // per pointer; the caller keeps the buffer between snapshots, as the
    // journal does, and hands the same one to every freeze) and the set of
    // items born while frozen (kept between snapshots too). A freeze is
    // never refused, so growing them may take memory_bytes() past the
    // budget: writes get memory_full until deletes make room.
    void freeze(frozen_items& out);
    void thaw();
    bool frozen() const { return _frozen; }
    // What the freeze keeps: the kept items' charges, plus their places on
    // the list.
    // Includes what thawed cuts left to retire (thawed_bytes()).
    std::size_t kept_bytes() const { return _kept_bytes + thawed_bytes(); }
    std::size_t thawed_bytes() const { return _thawed_charges + _thawed.capacity() * sizeof(item*); }
    static constexpr std::size_t thaw_step_items = 1024;
    // The snapshot's buffers in memory_bytes(): the last freeze's `out` and
    // the set of items born while frozen.
    std::size_t snapshot_buffer_bytes() const { return _freeze_buffer_bytes + _born.bytes(); }

    // Once per loop iteration on the owner, holding no item pointer: retires
    // a step of what thawed cuts kept and frees what no reader can reach any
    // more. now_ms: a monotonic clock that never jumps (the server passes
    // base::monotonic_ms(), not the loop's possibly virtual now), the same
    // for retired().
    // After a write refused for room that what waits would make room for
    // (put_result::memory_full), the steps are short_of_room_factor times
    // larger: fewer iterations of refused writes, each at most a few
    // milliseconds longer.
    void end_iteration(std::uint64_t now_ms) {
        const std::size_t factor = _refused_for_room ? short_of_room_factor : 1;
        _refused_for_room = false;
        if (!_thawed.empty()) retire_thawed(factor * thaw_step_items);  // no call in the usual iteration
        _retired.end_iteration(now_ms, factor * reclaimer::free_step_entries);
    }
    static constexpr std::size_t short_of_room_factor = 8;
    // Whether more end_iteration()s would retire or free more now: an idle
    // loop keeps iterating (instead of waiting for its tick) while it does.
    bool reclaim_pending() const { return !_thawed.empty() || _retired.elapsed_waiting(); }
    // Unlinked but not yet freed (bytes, entries, age of the oldest).
    reclaimer::retired_stats retired(std::uint64_t now_ms) const { return _retired.retired(now_ms); }

    // The key table's test seam (key_table::interleaving); off in the server.
    void interleave(key_table::interleaving* with) { _table.interleave(with); }
    // Whether the key table is growing (moving items to a newer table).
    bool migrating() const { return _table.migrating(); }

    std::size_t size() const { return _table.size(); }
    std::size_t ttl_keys() const { return _wheel.size(); }
    std::size_t memory_bytes() const { return _item_bytes + _table.slot_bytes() + snapshot_buffer_bytes(); }
    std::size_t memory_bytes_max() const { return _memory_bytes_max; }
    // The bytes of the values held (live or expired, not yet reclaimed).
    std::size_t value_bytes() const { return _value_bytes; }
    // Keys found expired and removed (by the timer wheel, on a read, or
    // replaced by a write), since the start.
    std::uint64_t expired_total() const { return _expired_total; }
    // Whether the shard holds an index (keys, live or awaiting purge) for it.
    bool holds_namespace(std::uint32_t namespace_number) const { return _namespaces.contains(namespace_number); }

private:
    // Removes the item from the table, its index and (in_wheel) the wheel,
    // then retires it.
    void unlink(item& i, bool in_wheel);
    static std::size_t charge_of(std::size_t allocation_bytes) { return allocation_bytes + allocator_overhead_bytes; }
    // Whether a put of `charge` bytes for this key stays within the budget.
    bool fits(std::size_t charge, std::uint64_t hash, std::uint32_t namespace_number, std::string_view key) const;

    reclaimer _retired;  // before _table, which retires its old slot arrays into it
    key_table _table;
    std::unordered_map<std::uint32_t, ordered_index> _namespaces;
    timer_wheel _wheel;
    std::size_t _memory_bytes_max;
    std::size_t _item_bytes = 0;  // items' charges (see above)
    std::size_t _value_bytes = 0;
    std::uint64_t _expired_total = 0;
    std::vector<std::uint32_t> _dropping;  // namespaces whose keys are being purged
    bool _frozen = false;
    bool _refused_for_room = false;  // a put got memory_full since the last end_iteration(), see refuse_for_room()
    // Items born while frozen (put() during the freeze) that the table still
    // holds; emptied by thaw(). let_go() retires an item found here and
    // keeps any other. Sound, with addresses reused by the allocator:
    // 1. An entry is an item put() made during this freeze that the table
    //    holds: put() inserts its fresh item before publishing it, the table
    //    gives an item up only through let_go() (replace, unlink), which
    //    erases it, once; so every entry is an allocated item.
    // 2. No entry is an item of the cut. Every cut item stays allocated until
    //    thaw(): the table's reference holds it, and once let go, not being
    //    an entry, _kept holds it (induction over the freeze's puts and
    //    let_go()s: the set starts empty). An address put() gets from the
    //    allocator during the freeze is therefore no cut item's: two
    //    allocated items never overlap.
    // So an address freed during the freeze (a born item retired, a batch
    // from before the freeze freed) and reused by a new item is that new
    // item's, born and inserted again; and rounds of earlier freezes, whose
    // items are in this cut, count as empty (pointer_set::clear()).
    pointer_set _born;
    std::vector<item*> _kept;  // cut items let go of while frozen; passed to _thawed by thaw()
    std::size_t _kept_bytes = 0;  // their charges, plus kept_entry_bytes each
    // Kept items of thawed cuts, retired from the back a step at a time;
    // their charges (the vector's room is counted as it is).
    std::vector<item*> _thawed;
    std::size_t _thawed_charges = 0;
    void retire_thawed(std::size_t items_max);
    // A kept item's place on _kept: a vector that at most doubles holds
    // at most two pointers' room per item.
    static constexpr std::size_t kept_entry_bytes = 2 * sizeof(item*);
    std::size_t _freeze_buffer_bytes = 0;  // the room of the last freeze's `out`
    // Retires an item the table let go of, or keeps it (frozen, and in the
    // cut). charge: its bytes, for the reclaimer's count.
    void let_go(item* i, std::size_t charge);
    // Only a write that freeing what waits would make room for hurries the
    // freeing: one too large for the budget must not undo the steps.
    put_result refuse_for_room(std::size_t charge) {
        const std::size_t reclaimable = _retired.bytes_waiting() + thawed_bytes();
        if (reclaimable > 0 && used_bytes() - reclaimable + charge <= _memory_bytes_max) _refused_for_room = true;
        return put_result::memory_full;
    }
    // What fits() holds against the budget: what the shard holds, what
    // waits for its grace period, and what snapshots keep.
    std::size_t used_bytes() const { return memory_bytes() + _retired.bytes_waiting() + snapshot_extra_bytes(); }
    // What fits() adds for snapshots: the thawed items not yet retired,
    // and while frozen _kept_bytes and what the next put may add (the
    // born-set slots it may allocate, the place on _kept of the cut item it
    // may replace).
    std::size_t snapshot_extra_bytes() const {
        return thawed_bytes() + (_frozen ? _kept_bytes + _born.growth_bytes_on_insert() + kept_entry_bytes : 0);
    }
};

}  // namespace ringkv::store
