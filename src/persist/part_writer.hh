#pragma once
// Encodes and writes one core's part of a snapshot (the items its shard
// held at the cut) while the core keeps serving requests.
//
// The encoding is CPU work on a core that also serves requests, and on a
// small machine it takes the CPU from the clients too. So it runs in turns
// of at most turn_ns, only in the loop's idle moments (io::loop::on_idle:
// no completion waiting, within the loop's background share of each tick);
// a request that arrives during a turn waits at most turn_ns. A loop that
// is never idle still gets one turn per tick, so every part ends. The
// kernel's work for the writes (page-cache copies in io_uring's workers,
// writeback, a virtual disk's host time) is not paced by the turns, so the
// bytes encoded are capped too, bytes_per_tick. Once the server is
// stopping (the snapshot at SIGTERM), turns run back to back, uncapped.
//
// Each item is an allocation of its own, so reading one is a cache miss:
// items are prefetched prefetch_distance ahead of the one being encoded.
//
// Writes: two buffers of about buffer_bytes; one is filled while the other
// is written with io_uring, so at most one write is in flight per core.
// Bound: 2 x (buffer_bytes + one record) per core while a part is written.

#include <ringkv/io/loop.hh>
#include <ringkv/io/task.hh>
#include <ringkv/store/item.hh>

#include <coroutine>
#include <cstdint>
#include <span>
#include <vector>

namespace ringkv::persist {

class part_writer {
public:
    static constexpr std::size_t buffer_bytes = 1u << 20;
    static constexpr std::uint64_t turn_ns = 50'000;
    static constexpr std::size_t prefetch_distance = 16;
    // Bytes encoded per tick at most (about 50 MB/s per core), unless
    // stopping.
    static constexpr std::size_t bytes_per_tick = 512u << 10;

    explicit part_writer(io::loop& loop) : _loop(loop) {}
    part_writer(const part_writer&) = delete;
    part_writer& operator=(const part_writer&) = delete;

    // Registers the loop hooks that give out the turns; start-up only.
    void start();

    struct cut_view {
        std::span<const store::item* const> items;  // frozen: alive until the part is written
        std::uint64_t cut_ms = 0;                    // items expired at the cut are left out
        std::int64_t wall_offset_ms = 0;             // a TTL's wall-clock ms = monotonic ms + this
    };
    struct written {
        int error = 0;  // 0 or -errno
        std::uint64_t bytes = 0;
        std::uint64_t records = 0;  // put records
    };
    // Writes `start` (the file header), the items as put records and the end
    // record to `fd` from offset 0. One part at a time per core.
    io::task<written> write(int fd, std::vector<char> start, cut_view cut);

private:
    struct chunk {
        std::vector<char> bytes;
        bool writing = false;
        int result = 0;
        std::coroutine_handle<> waiter;  // waits for the write to end
    };
    struct turn_awaiter {
        part_writer& writer;
        bool await_ready() const noexcept { return writer._loop.stopping(); }
        void await_suspend(std::coroutine_handle<> waiting) noexcept;
        void await_resume() const noexcept {}
    };
    struct write_awaiter {
        chunk& c;
        bool await_ready() const noexcept { return !c.writing; }
        void await_suspend(std::coroutine_handle<> waiting) noexcept { c.waiter = waiting; }
        int await_resume() const noexcept { return c.result; }
    };

    turn_awaiter next_turn() { return {*this}; }
    // What a turn may encode now: the tick's bytes left, or a whole buffer
    // once stopping. The one place the cap is lifted: a turn given with no
    // bytes allowed would make no progress and end at once, for ever.
    std::size_t bytes_allowed() const { return _loop.stopping() ? buffer_bytes : _tick_bytes_left; }
    bool run_turn();
    void encode_turn(const cut_view& cut, std::vector<char>& out);
    void start_write(chunk& c, int fd, std::uint64_t offset);
    static io::task<> write_chunk(chunk& c, int fd, std::uint64_t offset);

    io::loop& _loop;
    std::coroutine_handle<> _waiting;  // the writer, waiting for its turn
    bool _turned = false;              // a turn ran since the last tick
    std::size_t _tick_bytes_left = bytes_per_tick;
    std::size_t _next = 0;             // the next item to encode
    std::uint64_t _records = 0;
};

}  // namespace ringkv::persist
