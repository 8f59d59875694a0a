#pragma once
// Deferred frees for the lock-free reads of concurrent_read.hh: what the
// owner unlinks (a replaced or deleted item, a hash table grown out of) is
// freed only after every other core has passed a quiescent state (I4), and
// an item that a reader still sends from (a counted reference, values of
// 16 KiB and up) only once that reference is gone, so the memory is always
// freed here, on the owner's thread.
//
// Owner thread only. Nothing blocks: retire() appends, end_iteration()
// closes the iteration's batch with a snapshot of the other cores' counters
// and frees from the batches whose grace period has passed: as many entries
// as the iteration retired plus free_step_entries, so that a backlog (what
// piled up behind a stalled core, a thawed snapshot's kept items) drains a
// step per iteration instead of stalling one (freeing an item is a cache
// miss or two: 40K cost 5-9 ms in one go), while a steady write rate, whose
// every iteration retires as much as it frees, never builds one. An owner
// short of room asks for a larger step (fewer iterations of refused writes
// for a somewhat longer one); an idle one keeps iterating while
// elapsed_waiting().
//
// Bounds: at most batches_max batches wait; when they are all taken, the
// new batch joins the newest one under a fresh snapshot (a later snapshot
// is safe for earlier unlinks too). The bytes waiting are the owner's
// write rate times the longest time another core stays online without
// reaching its loop top (a scheduler slice when cores are oversubscribed:
// 100k PUT/s of 1 KiB held for 10 ms is about 1 MB); retired() reports
// them and the age of the oldest. A stalled core could make that any size,
// so the shard counts bytes_waiting() against its memory budget: past it,
// writes are refused (507) until the grace period ends and the owner's
// iterations have freed enough, never memory grown.

#include <ringkv/base/quiescent_state.hh>
#include <ringkv/store/item.hh>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringkv::store {

class reclaimer {
public:
    static constexpr std::size_t batches_max = 16;
    // What one end_iteration() may free beyond what the iteration retired
    // (a thaw step of 1,024 items, retired and freed, took 0.2-0.3 ms).
    static constexpr std::size_t free_step_entries = 1024;

    // domain: the cores' quiescent states, self: this core in it. nullptr:
    // nothing reads concurrently (one thread: tests, tools), so retire()
    // frees at once.
    reclaimer(const base::quiescent_states* domain, unsigned self);
    ~reclaimer();  // frees everything: no reader may remain (shutdown)
    reclaimer(const reclaimer&) = delete;
    reclaimer& operator=(const reclaimer&) = delete;

    // An item unlinked from the table: the table's reference is dropped
    // after the grace period, once it is the last one. bytes: its charge.
    void retire(item* i, std::size_t bytes) {
        if (_domain == nullptr) return i->release();
        _current.push_back({i, nullptr, bytes});
        _bytes_waiting += bytes;
    }
    // Any other memory readers may reach (an old slot array), freed with
    // free_memory(memory) after the grace period.
    void retire(void* memory, void (*free_memory)(void*), std::size_t bytes) {
        if (_domain == nullptr) return free_memory(memory);
        _current.push_back({memory, free_memory, bytes});
        _bytes_waiting += bytes;
    }

    // Whether retire() frees at once (no other core reads).
    bool frees_at_once() const { return _domain == nullptr; }
    // The bytes retired and not yet freed (what retired() sums), in O(1).
    std::size_t bytes_waiting() const { return _bytes_waiting; }

    // Called once per loop iteration, at a point where this thread holds no
    // pointer to anything retired. step_entries: what it may free beyond
    // what the iteration retired.
    void end_iteration(std::uint64_t now_ms, std::size_t step_entries = free_step_entries);
    // Whether entries past their grace period wait: the next
    // end_iteration() frees some (reads every core's counter; without a
    // domain nothing ever waits).
    bool elapsed_waiting() const {
        return _waiting > 0 && _domain->elapsed(_batches[_first].states.get(), _self);
    }

    struct retired_stats {
        std::size_t bytes = 0;        // unlinked, not yet freed
        std::size_t entries = 0;
        std::uint64_t oldest_age_ms = 0;
    };
    retired_stats retired(std::uint64_t now_ms) const;

private:
    struct entry {
        void* memory;
        void (*free_memory)(void*);  // nullptr: an item
        std::size_t bytes;
    };
    struct batch {
        std::vector<entry> entries;
        std::unique_ptr<std::uint64_t[]> states;  // the snapshot
        std::uint64_t retired_at_ms = 0;
    };
    struct lingering_item {
        item* held;
        std::size_t bytes;
        std::uint64_t retired_at_ms;
    };

    void close_batch(std::uint64_t now_ms);
    // Frees at most entries_max entries of elapsed batches, oldest first.
    void free_elapsed(std::size_t entries_max);
    // Frees b's entries from the back, at most entries_max; returns how many.
    std::size_t free_entries(batch& b, std::size_t entries_max);
    void free_unshared_items();

    const base::quiescent_states* _domain;
    const unsigned _self;
    std::vector<entry> _current;
    std::array<batch, batches_max> _batches;  // a ring: _first, then _waiting of them
    std::size_t _first = 0;
    std::size_t _waiting = 0;
    std::vector<lingering_item> _lingering;  // past the grace period, a reader still holds a reference
    std::size_t _bytes_waiting = 0;
};

}  // namespace ringkv::store
