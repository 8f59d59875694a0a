#include <ringkv/io/cluster.hh>

#include <ringkv/base/limits.hh>

#include <thread>

namespace ringkv::io {

cluster::cluster(unsigned core_count, std::size_t mailbox_entries)
    : _core_count(core_count),
      _sender_parked(std::make_unique<std::atomic<bool>[]>(std::size_t{core_count} * core_count)),
      _cores(std::make_unique<core_state[]>(core_count)),
      _quiescent(core_count) {
    RINGKV_ASSERT(core_count >= 1 && core_count <= limits::cores_max);
    _mailboxes.reserve(std::size_t{core_count} * core_count);
    for (unsigned i = 0; i < core_count * core_count; ++i) {
        // The diagonal (a core to itself) is never used: local calls run inline.
        const bool diagonal = i / core_count == i % core_count;
        _mailboxes.push_back(std::make_unique<spsc_queue<message*>>(diagonal ? 2 : mailbox_entries));
    }
}

void cluster::wait_until_all_rings_ready() {
    for (unsigned core = 0; core < _core_count; ++core) {
        while (_cores[core].ring_fd.load(std::memory_order_acquire) < 0) std::this_thread::yield();
    }
}

}  // namespace ringkv::io
