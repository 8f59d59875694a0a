#include <ringkv/persist/part_writer.hh>

#include "file_ops.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/persist/format.hh>
#include <ringkv/persist/loader.hh>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>

namespace ringkv::persist {
namespace {

// Writes all of `bytes` at `offset` with pwrite; 0 or -errno.
int write_all(int fd, const std::vector<char>& bytes, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t result = ::pwrite(fd, bytes.data() + done, bytes.size() - done, off_t(offset + done));
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) return -errno;
        if (result == 0) return -ENOSPC;
        done += std::size_t(result);
    }
    return 0;
}

// An item's allocation: the TTL block before it (if any), then the item
// and its key and value, about three cache lines for 100-byte values.
void prefetch_item(const store::item* i) {
    const char* at = reinterpret_cast<const char*>(i);
    __builtin_prefetch(at - 32);
    __builtin_prefetch(at + 32);
    __builtin_prefetch(at + 96);
}

// Sets the scheduling policy of thread `tid` (0: the calling thread); 0
// or -errno.
int set_policy(pid_t tid, int policy) {
    const sched_param none{};
    return ::sched_setscheduler(tid, policy, &none) == 0 ? 0 : -errno;
}

// Anyone may enter SCHED_IDLE, but leaving it needs CAP_SYS_NICE or an
// RLIMIT_NICE of 20: a thread that tried to come back and could not would
// stay idle for good, and the snapshot at SIGTERM could then never end on
// a busy machine. So a throw-away thread tries the way in and out first.
bool idle_is_reversible() {
    bool reversible = false;
    std::thread([&reversible] {
        reversible = set_policy(0, SCHED_IDLE) == 0 && set_policy(0, SCHED_OTHER) == 0;
    }).join();
    return reversible;
}

// Sleeps until `due_ns` (monotonic), for at most one nap; false once due.
bool nap_until(std::uint64_t due_ns, std::uint64_t nap_ns_max) {
    const std::uint64_t now_ns = base::monotonic_ns();
    if (now_ns >= due_ns) return false;
    const std::uint64_t nap_ns = std::min(due_ns - now_ns, nap_ns_max);
    const timespec nap{time_t(nap_ns / 1'000'000'000), long(nap_ns % 1'000'000'000)};
    ::nanosleep(&nap, nullptr);
    return true;
}

}  // namespace

part_writer::part_writer(unsigned cores, std::uint64_t bytes_per_s, std::string directory)
    : _slots(std::make_unique<slot[]>(cores)),
      _cores(cores),
      _pace(bytes_per_s),
      _directory(std::move(directory)),
      _removal_pace(bytes_per_s * removal_pace_factor) {
    const auto close_wake_fds = [this] {
        for (unsigned core = 0; core < _cores; ++core) {
            if (_slots[core].wake_fd >= 0) ::close(_slots[core].wake_fd);
        }
    };
    for (unsigned core = 0; core < cores; ++core) {
        _slots[core].wake_fd = ::eventfd(0, EFD_CLOEXEC);
        if (_slots[core].wake_fd < 0) {
            const int error = errno;
            close_wake_fds();
            throw std::runtime_error(std::string("eventfd: ") + std::strerror(error));
        }
    }
    // Every signal blocked in the thread from its first instruction (it
    // inherits the mask): SIGTERM must reach the loops' signalfd, never
    // this thread's default action. The caller's mask comes back even if
    // a thread cannot be started.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    try {
        _idle_priority.store(idle_is_reversible(), std::memory_order_release);
        _thread = std::thread([this] { run(); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &saved, nullptr);
        close_wake_fds();
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    // The thread's id, for the loops to move it to normal priority.
    while (_tid.load(std::memory_order_acquire) == 0) std::this_thread::yield();
}

part_writer::~part_writer() {
    for (unsigned core = 0; core < _cores; ++core) RINGKV_ASSERT(_slots[core].state.load() != slot_state::posted);
    _stopping.store(true, std::memory_order_release);
    _posts.fetch_add(1, std::memory_order_release);
    _posts.notify_one();
    _thread.join();
    for (unsigned core = 0; core < _cores; ++core) ::close(_slots[core].wake_fd);
}

io::task<part_writer::written> part_writer::write(unsigned core, part_job job) {
    RINGKV_ASSERT(core < _cores);
    slot& s = _slots[core];
    RINGKV_ASSERT(s.state.load(std::memory_order_relaxed) == slot_state::free);
    s.job = std::move(job);
    s.posted_ms = base::monotonic_ms();
    s.starved.store(false, std::memory_order_relaxed);  // published by the release below
    s.state.store(slot_state::posted, std::memory_order_release);
    _posts.fetch_add(1, std::memory_order_release);
    _posts.notify_one();
    // The eventfd's count is the wake-up; the slot's state (acquire) is
    // what publishes the result.
    std::uint64_t count = 0;
    while (s.state.load(std::memory_order_acquire) != slot_state::done) {
        const int result = co_await read_at(s.wake_fd, &count, sizeof(count), 0);
        RINGKV_ASSERT(result == int(sizeof(count)) || result == -EINTR);
    }
    written result = s.result;
    s.job = {};
    s.state.store(slot_state::free, std::memory_order_relaxed);
    co_return result;
}

void part_writer::remove_before(std::uint64_t generation) {
    RINGKV_ASSERT(!_directory.empty());
    std::uint64_t wanted = _removal_wanted.load(std::memory_order_relaxed);
    while (wanted < generation &&
           !_removal_wanted.compare_exchange_weak(wanted, generation, std::memory_order_release,
                                                  std::memory_order_relaxed)) {
    }
    _posts.fetch_add(1, std::memory_order_release);
    _posts.notify_one();
}

void part_writer::hurry() {
    _hurried.store(true, std::memory_order_seq_cst);
    if (idle_priority()) set_policy(_tid.load(std::memory_order_relaxed), SCHED_OTHER);
}

void part_writer::check_starved(unsigned core, std::uint64_t now_ms) {
    slot& s = _slots[core];
    if (s.state.load(std::memory_order_relaxed) != slot_state::posted) return;
    if (now_ms < std::max(s.posted_ms, _due_ms.load(std::memory_order_relaxed)) + starved_ms_max) return;
    if (!idle_priority() || s.starved.load(std::memory_order_relaxed)) return;
    // Once per part: the thread stays at normal priority until this part
    // is written (settle_priority() reads the flag when it takes a part up).
    s.starved.store(true, std::memory_order_seq_cst);
    _starved.fetch_add(1, std::memory_order_relaxed);
    set_policy(_tid.load(std::memory_order_relaxed), SCHED_OTHER);
}

// Idle priority for the part the thread takes up (or for none), unless
// the server is stopping or that part has starved. Both are read again
// after the change: hurry() or check_starved() may have moved the thread
// to normal priority just before it, and theirs must be the last word. A
// check_starved() that lands after its part has ended leaves the thread at
// normal priority only until it takes up the next part.
void part_writer::settle_priority(const slot* part) {
    if (!idle_priority()) return;
    const auto normal_wanted = [&] {
        return _hurried.load(std::memory_order_seq_cst) ||
               (part != nullptr && part->starved.load(std::memory_order_seq_cst));
    };
    if (normal_wanted()) return;
    set_policy(0, SCHED_IDLE);
    if (normal_wanted()) set_policy(0, SCHED_OTHER);
}

// Sleeps until the pace lets `bytes` be written, in naps so that a stop
// (hurry()) ends the wait within one; no wait once the server is stopping.
// A removal under way goes on in those waits, a step at a time: a paced
// part holds the thread for its whole snapshot, and snapshots back to back
// would otherwise leave the removal no time at all, older generations
// piling up on the disk. A step is started only where the last one's time
// fits before the buffer is due: on a slow disk, steps taken whenever due
// would each make a buffer late, and the part would fall behind its pace
// until counted starved. Unpaced, a removal step (an unlink) is taken
// before each buffer.
void part_writer::keep_pace(std::size_t bytes) {
    if (!_pace.paced()) {
        if (removal_pending()) remove_some(0);
        return;
    }
    std::uint64_t now_ns = base::monotonic_ns();
    const std::uint64_t due_ns = now_ns + _pace.wait_ns(now_ns, bytes);
    _due_ms.store(_part_taken_ms + _part_bytes * 1000 / _pace.bytes_per_s(), std::memory_order_relaxed);
    _part_bytes += bytes;
    while (now_ns < due_ns && !_hurried.load(std::memory_order_relaxed)) {
        const std::uint64_t nap_ns_max = std::min(due_ns - now_ns, pace_nap_ns_max);
        if (removal_pending() && now_ns + _removal.last_step_ns < due_ns) {
            remove_some(nap_ns_max);
        } else {
            nap_until(now_ns + nap_ns_max, nap_ns_max);
        }
        now_ns = base::monotonic_ns();
    }
}

part_writer::slot* part_writer::next_posted() {
    for (unsigned core = 0; core < _cores; ++core) {
        if (_slots[core].state.load(std::memory_order_acquire) == slot_state::posted) return &_slots[core];
    }
    return nullptr;
}

void part_writer::run() {
    // Into SCHED_IDLE only if the thread can come back out of it (the
    // constructor found out); else it never enters it.
    if (!idle_priority()) {
        std::fprintf(stderr,
                     "ringkv: the snapshot writer runs at normal priority: leaving SCHED_IDLE needs CAP_SYS_NICE or "
                     "RLIMIT_NICE 20 (ulimit -e 20; systemd LimitNICE=20)\n");
    }
    settle_priority(nullptr);
    _tid.store(::gettid(), std::memory_order_release);  // the constructor returns: idle from its first job
    for (;;) {
        const std::uint32_t seen = _posts.load(std::memory_order_acquire);
        if (slot* s = next_posted()) {
            _settled_since_part = false;
            settle_priority(s);
            _part_taken_ms = base::monotonic_ms();
            _part_bytes = 0;
            _due_ms.store(_pace.paced() ? _part_taken_ms : s->posted_ms, std::memory_order_relaxed);
            s->result = write_part(s->job);
            s->state.store(slot_state::done, std::memory_order_release);
            const std::uint64_t one = 1;
            [[maybe_unused]] const ssize_t woken = ::write(s->wake_fd, &one, sizeof(one));
            continue;
        }
        if (removal_pending()) {
            // Idle priority again after a part that starved (not for
            // every step: a removal's naps come 50 times a second).
            if (!_settled_since_part) settle_priority(nullptr);
            _settled_since_part = true;
            remove_some(pace_nap_ns_max);
            continue;
        }
        // Nothing left: back to idle priority, unless stopping.
        settle_priority(nullptr);
        if (_stopping.load(std::memory_order_acquire)) return;
        _posts.wait(seen, std::memory_order_acquire);
    }
}

part_writer::written part_writer::write_part(part_job& job) {
    const cut_view& cut = job.cut;
    std::vector<char> out = std::move(job.start);
    out.reserve(buffer_bytes + record_header_bytes + record_body_bytes_max);
    written done;
    const std::size_t count = cut.items.size();
    for (std::size_t next = 0; next < count && done.error == 0; ++next) {
        if (next + prefetch_distance < count) prefetch_item(cut.items[next + prefetch_distance]);
        const store::item& i = *cut.items[next];
        if (!i.expired(cut.cut_ms)) {
            put_record r;
            r.namespace_number = i.namespace_number();
            r.updated_at_s = i.updated_at_s();
            r.expires_at_wall_ms = i.has_ttl() ? std::uint64_t(std::int64_t(i.ttl().at_ms) + cut.wall_offset_ms) : 0;
            r.key = i.key();
            r.content_type = i.content_type();
            r.value = i.value();
            append(r, out);
            ++done.records;
        }
        if (out.size() < buffer_bytes && next + 1 < count) continue;
        if (next + 1 == count) append(end_record{done.records}, out);
        keep_pace(out.size());
        done.error = write_all(job.fd, out, done.bytes);
        // The writeback starts now, in this thread's context and priority.
        if (done.error == 0) ::sync_file_range(job.fd, off_t(done.bytes), off_t(out.size()), SYNC_FILE_RANGE_WRITE);
        done.bytes += out.size();
        out.clear();
    }
    if (count == 0) {  // no item: the header and the end record alone
        append(end_record{0}, out);
        done.error = write_all(job.fd, out, 0);
        done.bytes = out.size();
    }
    if (done.error == 0 && ::fdatasync(job.fd) != 0) done.error = -errno;
    ::close(job.fd);
    job.fd = -1;
    if (done.error == 0 && ::rename(job.temporary.c_str(), job.final_path.c_str()) != 0) done.error = -errno;
    if (done.error != 0) ::unlink(job.temporary.c_str());
    return done;
}

// --- removal of older generations ---------------------------------------

bool part_writer::removal_pending() const {
    return _removal.next < _removal.doomed.size() ||
           _removal_wanted.load(std::memory_order_acquire) > _removal.generation;
}

// Paced only while the writes are, and never once the server stops: a
// stop waits for no pace.
bool part_writer::removal_paced() const {
    return _removal_pace.paced() && !_hurried.load(std::memory_order_relaxed) &&
           !_stopping.load(std::memory_order_acquire);
}

// The files of every generation before the newest one asked, listed.
void part_writer::take_up_removal() {
    removal& r = _removal;
    r.generation = _removal_wanted.load(std::memory_order_acquire);
    r.doomed.clear();
    r.next = 0;
    if (DIR* d = ::opendir(_directory.c_str())) {
        while (const dirent* entry = ::readdir(d)) {
            // Only names ringkv writes (the loader's own parser): anything
            // else a person left in the directory is not ours to remove.
            const std::optional<file_name> name = parse_file_name(entry->d_name);
            if (name && name->generation < r.generation) r.doomed.push_back(_directory + "/" + entry->d_name);
        }
        ::closedir(d);
    } else {
        std::fprintf(stderr, "ringkv: removing the files before generation %" PRIu64 " after a snapshot: %s: %s\n",
                     r.generation, _directory.c_str(), std::strerror(errno));
    }
    if (r.doomed.empty()) _removed_before.store(r.generation, std::memory_order_release);
}

// One step of the removal at most: a nap until the next step is due (at
// most nap_ns_max, so that a posted part, a stop or a part's pace is seen
// within one), or a file shrunk by a step, or a file unlinked.
void part_writer::remove_some(std::uint64_t nap_ns_max) {
    removal& r = _removal;
    if (r.next == r.doomed.size()) {
        take_up_removal();
        return;
    }
    if (!r.measured) {
        // Write access to shrink it; a name that is no regular file (a FIFO,
        // a symlink: O_NONBLOCK, O_NOFOLLOW) is only unlinked.
        r.fd = ::open(r.doomed[r.next].c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        struct stat info {};
        const bool regular = r.fd >= 0 && ::fstat(r.fd, &info) == 0 && S_ISREG(info.st_mode);
        r.bytes = regular ? std::uint64_t(info.st_size) : 0;
        r.measured = true;
    }
    const bool paced = removal_paced();
    const bool shrink = paced && r.fd >= 0 && r.bytes > removal_step_bytes;
    if (paced) {
        if (!r.step_planned) {
            const std::uint64_t now_ns = base::monotonic_ns();
            r.step_due_ns = now_ns + _removal_pace.wait_ns(now_ns, shrink ? removal_step_bytes : r.bytes);
            r.step_planned = true;
        }
        if (nap_until(r.step_due_ns, nap_ns_max)) return;
    }
    r.step_planned = false;
    const std::uint64_t step_start_ns = base::monotonic_ns();
    if (shrink) {
        r.bytes -= removal_step_bytes;
        const bool shrunk = ::ftruncate(r.fd, off_t(r.bytes)) == 0 && ::fdatasync(r.fd) == 0;
        r.last_step_ns = base::monotonic_ns() - step_start_ns;
        if (shrunk) return;
        // A step the disk refused: the file is unlinked whole.
    }
    finish_doomed_file();
    r.last_step_ns = base::monotonic_ns() - step_start_ns;
}

void part_writer::finish_doomed_file() {
    removal& r = _removal;
    const std::string& path = r.doomed[r.next];
    if (r.fd >= 0) ::close(r.fd);
    r.fd = -1;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "ringkv: removing %s after a snapshot: %s\n", path.c_str(), std::strerror(errno));
    }
    r.measured = false;
    if (++r.next == r.doomed.size()) _removed_before.store(r.generation, std::memory_order_release);
}

}  // namespace ringkv::persist
