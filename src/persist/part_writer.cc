#include "part_writer.hh"

#include "file_ops.hh"

#include <ringkv/base/clock.hh>
#include <ringkv/persist/format.hh>

#include <cerrno>

namespace ringkv::persist {
namespace {

// The clock is read once per this many items (about 2 µs of encoding).
constexpr std::size_t items_per_clock_read = 16;

// Writes all of `bytes` at `offset`; 0 or -errno.
io::task<int> write_all(int fd, const std::vector<char>& bytes, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const int result = co_await write_at(fd, bytes.data() + done, unsigned(bytes.size() - done), offset + done);
        if (result < 0) co_return result;
        if (result == 0) co_return -ENOSPC;
        done += std::size_t(result);
    }
    co_return 0;
}

// An item's allocation: the TTL block before it (if any), then the item
// and its key and value, about three cache lines for 100-byte values.
void prefetch_item(const store::item* i) {
    const char* at = reinterpret_cast<const char*>(i);
    __builtin_prefetch(at - 32);
    __builtin_prefetch(at + 32);
    __builtin_prefetch(at + 96);
}

}  // namespace

void part_writer::start() {
    _loop.on_idle([this] { return run_turn(); });
    _loop.on_tick([this] {
        _tick_bytes_left = bytes_per_tick;
        if (_waiting && !_turned) run_turn();  // never idle this tick: one turn anyway
        _turned = false;
    });
}

void part_writer::turn_awaiter::await_suspend(std::coroutine_handle<> waiting) noexcept {
    writer._waiting = waiting;
    writer._loop.background_due();
}

// One turn of the waiting writer: it encodes for at most turn_ns, then
// waits for its next turn or for a write. True while it wants another.
bool part_writer::run_turn() {
    if (!_waiting || bytes_allowed() == 0) return false;
    _turned = true;
    std::exchange(_waiting, {}).resume();
    return bool(_waiting);
}

void part_writer::encode_turn(const cut_view& cut, std::vector<char>& out) {
    const std::uint64_t until_ns = base::monotonic_ns() + turn_ns;
    const std::size_t count = cut.items.size();
    const std::size_t before = out.size();
    const std::size_t limit = std::min(buffer_bytes, before + bytes_allowed());
    while (_next < count && out.size() < limit) {
        const std::size_t stop = std::min(count, _next + items_per_clock_read);
        for (; _next < stop && out.size() < limit; ++_next) {
            if (_next + prefetch_distance < count) prefetch_item(cut.items[_next + prefetch_distance]);
            const store::item& i = *cut.items[_next];
            if (i.expired(cut.cut_ms)) continue;
            put_record r;
            r.namespace_number = i.namespace_number();
            r.updated_at_s = i.updated_at_s();
            r.expires_at_wall_ms = i.has_ttl() ? std::uint64_t(std::int64_t(i.ttl().at_ms) + cut.wall_offset_ms) : 0;
            r.key = i.key();
            r.content_type = i.content_type();
            r.value = i.value();
            append(r, out);
            ++_records;
        }
        if (base::monotonic_ns() >= until_ns) break;
    }
    _tick_bytes_left -= std::min(_tick_bytes_left, out.size() - before);
}

io::task<> part_writer::write_chunk(chunk& c, int fd, std::uint64_t offset) {
    c.result = co_await write_all(fd, c.bytes, offset);
    c.writing = false;
    if (c.waiter) std::exchange(c.waiter, {}).resume();
}

void part_writer::start_write(chunk& c, int fd, std::uint64_t offset) {
    c.writing = true;
    io::spawn(write_chunk(c, fd, offset));
}

io::task<part_writer::written> part_writer::write(int fd, std::vector<char> start, cut_view cut) {
    _next = 0;
    _records = 0;
    chunk chunks[2];
    for (chunk& c : chunks) c.bytes.reserve(buffer_bytes + record_header_bytes + record_body_bytes_max);
    chunks[0].bytes.insert(chunks[0].bytes.end(), start.begin(), start.end());
    unsigned filling = 0;
    std::uint64_t offset = 0;
    int error = 0;
    bool ended = false;
    while (error == 0 && !ended) {
        chunk& c = chunks[filling];
        co_await next_turn();
        encode_turn(cut, c.bytes);
        ended = _next == cut.items.size();
        if (ended) append(end_record{_records}, c.bytes);
        if (!ended && c.bytes.size() < buffer_bytes) continue;
        // Full: written once the other buffer's write has ended.
        error = co_await write_awaiter{chunks[1 - filling]};
        if (error != 0) break;
        chunks[1 - filling].bytes.clear();
        start_write(c, fd, offset);
        offset += c.bytes.size();
        filling = 1 - filling;
    }
    // Neither buffer may be in flight when this frame ends.
    for (chunk& c : chunks) {
        const int result = co_await write_awaiter{c};
        if (error == 0) error = result;
    }
    co_return written{error, offset, _records};
}

}  // namespace ringkv::persist
