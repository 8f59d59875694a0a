#pragma once
// Hop-free reads: any core looks up any core's shard, with no lock and no
// message. The rules, in one place (the code that keeps each is named):
//
// I1 One writer per shard, its owner core. A reader writes nothing shared,
//    except the reference count of an item it keeps to send from
//    (concurrent_item::keep(), values of 16 KiB and up).
// I2 An item is complete before the release store that publishes it: key,
//    value, Content-Type, updated_at and the TTL deadline (shard::put sets
//    ttl().at_ms before upsert()). What a reader reads of it never changes
//    afterwards (the owner-only treap and wheel links are not read).
// I3 In a published table a slot never goes back to empty; tombstones stay
//    until the whole table is retired (key_table).
// I4 Nothing a reader can reach is freed until every other core has passed
//    a quiescent state since it was unlinked (reclaimer, with
//    base/quiescent_state.hh). An item a reader still sends from is freed
//    when its count falls to the table's reference alone, by the owner.
// I5 A reader holds no raw pointer across a co_await or past the end of its
//    loop iteration: it copies a small value out in the same iteration, or
//    takes a counted reference. Debug builds check every use
//    (concurrent_item below).
// I6 During growth an item is published in the newer table before its old
//    slot becomes a tombstone, and readers start at the oldest live table
//    and follow `future` after any miss (rhashtable's rule): a key present
//    throughout is never missed. The owner itself may probe newest first.
//
// Why a reader is safe: the loop (io/loop.cc) goes offline before it may
// sleep and passes a quiescent state, with a full fence, when it wakes;
// everything in between (completions, callbacks, the next iteration's
// mailboxes) is one read section. The reclaimer snapshots the other cores'
// counters after a full fence and frees a batch when each was offline or
// has moved on. See quiescent_state.hh for why both fences are needed.
//
// Linearizability: a GET that loads the slot before the owner's store
// returns the old item (the two overlapped); a GET that starts after the
// client saw the write's answer follows the owner's release through the
// reply mailbox, the socket and the new request, so it sees the new slot.
//
// Tests: tests/unit/store/concurrent_read_test.cc stresses the protocol
// with threads (under ASan and TSan too) and runs each trap deterministically
// at its moment, through key_table's interleaving seam: a key moved between
// a reader's two table probes, a TTL set after publishing, an old slot
// emptied before the item is in the newer table, the newer table linked or
// the readers' head moved too early.
//
// Not done on a remote read: unlinking an expired item (readers filter on
// the deadline; the owner's timer wheel reclaims it on time).

#include <ringkv/base/assert.hh>
#include <ringkv/base/quiescent_state.hh>
#include <ringkv/store/item.hh>
#include <ringkv/store/shard.hh>

#include <cstdint>
#include <string_view>

namespace ringkv::store {

// A pointer to an item found by a concurrent read: valid until the reading
// core's next quiescent state (I5). In debug builds every use checks that
// the core has not passed one since the look-up.
class concurrent_item {
public:
    concurrent_item(const item* found, const base::quiescent_states& states, unsigned reader)
        : _item(found)
#ifndef NDEBUG
          ,
          _states(&states),
          _reader(reader),
          _state(states.state(reader))
#endif
    {
        (void)states;
        (void)reader;
    }

    explicit operator bool() const { return _item != nullptr; }
    const item* operator->() const {
        check();
        return _item;
    }
    const item& operator*() const { return *operator->(); }
    // A counted reference that outlives the read section (I1's exception).
    // Safe because the item cannot be freed before this core's next
    // quiescent state, and the owner frees only the last reference.
    item_ref keep() const {
        check();
        return item_ref(const_cast<item*>(_item));
    }

private:
    void check() const {
#ifndef NDEBUG
        // Either a pointer kept past a co_await or the loop iteration (a
        // use-after-free waiting to happen) or a read outside any section.
        RINGKV_ASSERT(_state != 0 && _states->state(_reader) == _state);
#endif
    }

    const item* _item;
#ifndef NDEBUG
    const base::quiescent_states* _states;
    unsigned _reader;
    std::uint64_t _state;
#endif
};

// Looks (namespace, key) up in `owner`, which may be another core's shard,
// from core `reader` inside its read section.
inline concurrent_item read_concurrent(const shard& owner, std::uint64_t hash, std::uint32_t namespace_number,
                                       std::string_view key, std::uint64_t now_ms,
                                       const base::quiescent_states& states, unsigned reader) {
    return {owner.find_concurrent(hash, namespace_number, key, now_ms), states, reader};
}

}  // namespace ringkv::store
