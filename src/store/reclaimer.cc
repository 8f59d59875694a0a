#include <ringkv/store/reclaimer.hh>

#include <algorithm>
#include <utility>

namespace ringkv::store {

reclaimer::reclaimer(const base::quiescent_states* domain, unsigned self) : _domain(domain), _self(self) {
    if (_domain == nullptr) return;
    RINGKV_ASSERT(self < _domain->participants());
    for (batch& b : _batches) b.states = std::make_unique<std::uint64_t[]>(_domain->participants());
}

reclaimer::~reclaimer() {
    for (; _waiting > 0; --_waiting) {
        free_entries(_batches[_first], SIZE_MAX);
        _first = (_first + 1) % batches_max;
    }
    batch last;
    last.entries.swap(_current);
    free_entries(last, SIZE_MAX);
    // Shutdown: no connection is left, so no reader holds a reference.
    for (const lingering_item& l : _lingering) l.held->release();
}

void reclaimer::end_iteration(std::uint64_t now_ms, std::size_t step_entries) {
    const std::size_t retired_now = _current.size();
    if (retired_now > 0) close_batch(now_ms);
    if (_waiting > 0) free_elapsed(retired_now + std::min(step_entries, SIZE_MAX - retired_now));
    if (!_lingering.empty()) free_unshared_items();
}

void reclaimer::close_batch(std::uint64_t now_ms) {
    if (_waiting == batches_max) {
        // Every batch is taken: join the newest, under a new snapshot.
        batch& newest = _batches[(_first + _waiting - 1) % batches_max];
        newest.entries.insert(newest.entries.end(), _current.begin(), _current.end());
        _current.clear();
        if (_domain != nullptr) _domain->take(newest.states.get());
        return;
    }
    batch& b = _batches[(_first + _waiting) % batches_max];
    RINGKV_DEBUG_ASSERT(b.entries.empty());
    b.entries.swap(_current);  // both keep their capacity
    b.retired_at_ms = now_ms;
    if (_domain != nullptr) _domain->take(b.states.get());
    ++_waiting;
}

void reclaimer::free_elapsed(std::size_t entries_max) {
    while (_waiting > 0 && entries_max > 0) {
        batch& b = _batches[_first];
        if (_domain != nullptr && !_domain->elapsed(b.states.get(), _self)) return;
        entries_max -= free_entries(b, entries_max);
        if (!b.entries.empty()) return;  // the step is spent: the rest waits for the next iteration
        _first = (_first + 1) % batches_max;
        --_waiting;
    }
}

std::size_t reclaimer::free_entries(batch& b, std::size_t entries_max) {
    const std::size_t count = std::min(entries_max, b.entries.size());
    for (std::size_t n = 0; n < count; ++n) {
        const entry e = b.entries.back();
        b.entries.pop_back();
        if (e.free_memory != nullptr) {
            e.free_memory(e.memory);
            _bytes_waiting -= e.bytes;
            continue;
        }
        item* i = static_cast<item*>(e.memory);
        // No reader can take a new reference now (the grace period passed),
        // so the count only falls: the table's reference goes last, here.
        if (i->references() == 1) {
            i->release();
            _bytes_waiting -= e.bytes;
        } else {
            _lingering.push_back({i, e.bytes, b.retired_at_ms});
        }
    }
    return count;
}

void reclaimer::free_unshared_items() {
    std::size_t kept = 0;
    for (const lingering_item& l : _lingering) {
        if (l.held->references() == 1) {
            l.held->release();
            _bytes_waiting -= l.bytes;
        } else {
            _lingering[kept++] = l;
        }
    }
    _lingering.resize(kept);
}

reclaimer::retired_stats reclaimer::retired(std::uint64_t now_ms) const {
    retired_stats stats;
    std::uint64_t oldest_ms = now_ms;
    const auto count = [&](const std::vector<entry>& entries) {
        for (const entry& e : entries) stats.bytes += e.bytes;
        stats.entries += entries.size();
    };
    count(_current);
    for (std::size_t n = 0; n < _waiting; ++n) {
        const batch& b = _batches[(_first + n) % batches_max];
        count(b.entries);
        oldest_ms = std::min(oldest_ms, b.retired_at_ms);
    }
    for (const lingering_item& l : _lingering) {
        stats.bytes += l.bytes;
        oldest_ms = std::min(oldest_ms, l.retired_at_ms);
    }
    stats.entries += _lingering.size();
    stats.oldest_age_ms = now_ms - oldest_ms;
    return stats;
}

}  // namespace ringkv::store
