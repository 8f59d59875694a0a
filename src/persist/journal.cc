#include <ringkv/persist/journal.hh>

#include "file_ops.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/persist/format.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/persist/part_writer.hh>
#include <ringkv/persist/snapshot.hh>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringkv::persist {
namespace {

thread_local journal* local_journal = nullptr;

// Emptied batch buffers kept for reuse, so a busy log allocates nothing.
constexpr std::size_t spare_max = 4;
constexpr std::size_t spare_bytes_max = 1u << 20;  // each; a larger one is freed

std::string describe(int error) { return std::strerror(error); }

}  // namespace

journal::journal(const persist_options& options, io::loop& loop, store::shard& keys,
                 const store::namespace_registry& namespaces, const std::uint32_t& next_namespace_number,
                 part_writer& parts)
    : _options(options),
      _loop(loop),
      _keys(keys),
      _namespaces(namespaces),
      _next_namespace_number(next_namespace_number),
      _core(loop.core()),
      _next_generation(options.first_generation + 1),
      _newest_logs(options.log == log_mode::off ? 0 : options.first_generation),
      _part_writer(parts) {}

journal::~journal() {
    for (batch& b : _batches) {
        if (b.seal && b.fd >= 0 && b.fd != _fd) ::close(b.fd);
    }
    if (_fd >= 0) ::close(_fd);
}

journal& journal::local() {
    RINGKV_DEBUG_ASSERT(local_journal != nullptr);
    return *local_journal;
}

void journal::set_local(journal* j) { local_journal = j; }

std::vector<char> log_start(std::uint64_t generation, unsigned core, const log_set_record& set) {
    std::vector<char> out;
    append_header({file_kind::log, format_version, core, generation}, out);
    append(set, out);
    return out;
}

std::vector<char> log_whole(std::uint64_t generation) {
    std::vector<char> out;
    append(generation_whole_record{generation}, out);
    return out;
}

namespace {

// Writes bytes_of(core) into the logs of cores [from, to) at `offset`, then
// fdatasyncs each: one step of create_logs_now, durable in those logs when
// it returns "".
template <typename Bytes>
std::string write_logs(const std::string& dir, std::uint64_t generation, const std::vector<int>& fds, unsigned from,
                       unsigned to, std::uint64_t offset, Bytes bytes_of) {
    for (unsigned core = from; core < to; ++core) {
        const std::vector<char> bytes = bytes_of(core);
        errno = 0;
        if (::pwrite(fds[core], bytes.data(), bytes.size(), off_t(offset)) != ssize_t(bytes.size())) {
            return dir + "/" + log_name(generation, core) + ": " + describe(errno != 0 ? errno : ENOSPC);
        }
    }
    for (unsigned core = from; core < to; ++core) {
        if (::fdatasync(fds[core]) != 0) return dir + "/" + log_name(generation, core) + ": " + describe(errno);
    }
    return {};
}

}  // namespace

std::string create_logs_now(const std::string& dir, std::uint64_t generation, const log_set_record& set) {
    std::vector<int> fds;
    std::string error;
    for (unsigned core = 0; core < set.cores && error.empty(); ++core) {
        const std::string path = dir + "/" + log_name(generation, core);
        const int fd = ::open(path.c_str(), new_file_flags | O_CLOEXEC, new_file_mode);
        if (fd < 0) error = path + ": " + describe(errno); else fds.push_back(fd);
    }
    if (error.empty()) {
        const int directory = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (directory < 0 || ::fsync(directory) != 0) error = dir + ": " + describe(errno);
        if (directory >= 0) ::close(directory);
    }
    const auto cores = unsigned(fds.size());
    const std::size_t start_bytes = log_start(generation, 0, set).size();
    const auto start = [&](unsigned core) { return log_start(generation, core, set); };
    const auto whole = [&](unsigned) { return log_whole(generation); };
    // Step 2, then step 3 with core 0's log last (see journal.hh).
    if (error.empty()) error = write_logs(dir, generation, fds, 0, cores, 0, start);
    if (error.empty()) error = write_logs(dir, generation, fds, 1, cores, start_bytes, whole);
    if (error.empty()) error = write_logs(dir, generation, fds, 0, 1, start_bytes, whole);
    for (const int fd : fds) ::close(fd);
    // Only the files made here (cores [0, cores)): a name that was taken is
    // left as found.
    if (!error.empty()) undo_logs(dir, generation, cores);
    return error;
}

namespace {

// Truncates the log at `path` to `bytes` if it is longer (never longer: a
// log shorter than that stays as it is), and fdatasyncs it; "" or the error.
std::string shrink_log(const std::string& path, std::uint64_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? std::string{} : path + ": " + describe(errno);
    struct stat info {};
    std::string error;
    if (::fstat(fd, &info) != 0) {
        error = path + ": " + describe(errno);
    } else if (std::uint64_t(info.st_size) > bytes && (::ftruncate(fd, off_t(bytes)) != 0 || ::fdatasync(fd) != 0)) {
        error = path + ": " + describe(errno);
    }
    ::close(fd);
    return error;
}

std::string undo_steps(const std::string& dir, std::uint64_t generation, unsigned cores, std::size_t steps_max) {
    const auto path = [&](unsigned core) { return dir + "/" + log_name(generation, core); };
    const std::uint64_t start_bytes = log_start(generation, 0, {cores, 0}).size();
    std::size_t steps = 0;
    const std::string stopped = "stopped after " + std::to_string(steps_max) + " steps (a test)";
    for (unsigned core = 0; core < cores; ++core) {  // steps 1 (core 0), then 2
        if (steps++ == steps_max) return stopped;
        if (std::string e = shrink_log(path(core), start_bytes); !e.empty()) return e;
    }
    for (unsigned core = 0; core < cores; ++core) {  // step 3
        if (steps++ == steps_max) return stopped;
        if (std::string e = shrink_log(path(core), 0); !e.empty()) return e;
    }
    for (unsigned core = 0; core < cores; ++core) {  // step 4
        if (steps++ == steps_max) return stopped;
        if (::unlink(path(core).c_str()) != 0 && errno != ENOENT) return path(core) + ": " + describe(errno);
    }
    const int directory = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::string error;
    if (directory < 0 || ::fsync(directory) != 0) error = dir + ": " + describe(errno);
    if (directory >= 0) ::close(directory);
    return error;
}

}  // namespace

std::string undo_logs(const std::string& dir, std::uint64_t generation, unsigned cores, std::size_t steps_max) {
    std::string error = undo_steps(dir, generation, cores, steps_max);
    if (!error.empty()) {
        std::fprintf(stderr,
                     "ringkv: removing the logs of generation %" PRIu64
                     " after their making failed: %s; left as they are (a start ignores them)\n",
                     generation, error.c_str());
    }
    return error;
}

std::string journal::open() {
    _logged_clock_offset_ms = _loop.clock_offset_ms();  // as restored: the files hold it
    if (_options.log == log_mode::off) return {};
    return open_log(_options.first_generation);
}

// Opens this core's log of `generation`, made with the others of its
// generation (create_logs_now, or the snapshot's cut), to append to it.
std::string journal::open_log(std::uint64_t generation) {
    const std::string path = _options.dir + "/" + log_name(generation, _core);
    const int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return path + ": " + describe(errno);
    struct stat info {};
    if (::fstat(fd, &info) != 0 || info.st_size < off_t(file_header_bytes)) {
        const std::string why = info.st_size < off_t(file_header_bytes) ? "shorter than its start" : describe(errno);
        ::close(fd);
        return path + ": " + why;
    }
    _fd = fd;
    _generation = generation;
    _file_offset = std::uint64_t(info.st_size);
    return {};
}

void journal::start() {
    _last_sync_ms = _loop.now_ms();
    _loop.on_iteration([this] { kick(); });
    _loop.on_tick([this] {
        // A clock advance with no write after it is logged on its own.
        if (_options.log != log_mode::off && _loop.clock_offset_ms() != _logged_clock_offset_ms && accepting()) {
            std::vector<char>& out = open_batch();
            const std::size_t before = out.size();
            note_clock(out);
            appended(out.size() - before);
        }
        if (_options.log == log_mode::everysec && _written_unsynced > _durable && !_fd_distrusted &&
            _loop.now_ms() - _last_sync_ms >= everysec_ms) {
            _sync_due = true;
        }
        kick();
        if (_part_state.writing) _part_writer.check_starved(_core, _loop.real_now_ms());
    });
    // A clean stop loses nothing acknowledged, whatever the mode: every
    // batch is written (one the disk refused is tried again at once) and
    // fsync'd before the loop may exit (flush_once holds it, and the
    // iteration hook starts the next unit while the loop is stopping);
    // what still is not durable, in the log or a snapshot, is counted by
    // unsaved().
    _loop.on_stop([this](bool forced) {
        if (!forced) {
            _part_writer.hurry();  // the snapshot at the stop must not wait for idle CPU
            _retry_at_ms = 0;
            kick();
            return;
        }
        if (!_batches.empty() || _failed) {
            std::fprintf(stderr, "ringkv: core %u: %zu log bytes could not be written before the drain timeout\n",
                         _core, _pending_bytes);
        }
    });
}

// --- appending ---------------------------------------------------------

std::vector<char>& journal::open_batch() {
    if (_batches.empty() || _batches.back().in_flight || _batches.back().fd != _fd) {
        batch b;
        b.fd = _fd;
        b.generation = _generation;
        b.offset = _file_offset;
        if (!_spare.empty()) {
            b.bytes = std::move(_spare.back());
            _spare.pop_back();
        }
        b.last = _appended;
        _batches.push_back(std::move(b));
    }
    return _batches.back().bytes;
}

journal::ticket journal::appended(std::size_t bytes) {
    RINGKV_DEBUG_ASSERT(!_fd_distrusted);  // callers ask accepting() first
    _file_offset += bytes;
    _pending_bytes += bytes;
    _stats.log_bytes += bytes;
    ++_stats.records;
    _batches.back().last = ++_appended;
    return _appended;
}

// A change under --log off: counted (the snapshots are all that keeps it,
// unsaved()), and waited for only while a snapshot's cut holds writes.
journal::ticket journal::unlogged() {
    ++_appended;
    return _held_from != 0 ? _appended : 0;
}

// The ticket a write's caller must wait for, or 0 to answer at once.
journal::ticket journal::answer(ticket t) const {
    const bool held = _held_from != 0;
    return _options.log == log_mode::always || held ? t : 0;
}

// Under --log off, the snapshot cut on a stopping server is the last one:
// a change made after it would be acknowledged and kept by no file.
bool journal::accepting() const {
    return !_failed && !_distrusted && !_past_last_cut && _pending_bytes < log_buffer_bytes_max;
}

// Times in the files are on ringkv's clock: the machine's wall clock plus
// the virtual clock's lead, which moves with now_ms().
std::int64_t journal::wall_offset_ms() const {
    return std::int64_t(wall_ms() + _loop.clock_offset_ms()) - std::int64_t(_loop.now_ms());
}

// After POST /_ringkv/clock moved the clock, a clock record goes first:
// no record stamped with the new time reaches the disk without it.
void journal::note_clock(std::vector<char>& out) {
    if (_loop.clock_offset_ms() == _logged_clock_offset_ms) return;
    _logged_clock_offset_ms = _loop.clock_offset_ms();
    append(clock_record{_logged_clock_offset_ms}, out);
}

// The clock's record goes into the log now rather than at the next tick,
// so that POST /_ringkv/clock can wait for it like a write (under --log
// always, a kill -9 right after the answer must not take the clock back).
journal::ticket journal::clock_moved() {
    if (_options.log == log_mode::off) return unlogged();
    if (_loop.clock_offset_ms() == _logged_clock_offset_ms) return answer(_appended);  // on its way already
    std::vector<char>& out = open_batch();
    const std::size_t before = out.size();
    note_clock(out);
    return answer(appended(out.size() - before));
}

journal::ticket journal::put(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                             std::string_view content_type, std::uint32_t updated_at_s, std::uint64_t expires_at_ms) {
    if (_options.log == log_mode::off) return unlogged();
    put_record r;
    r.namespace_number = namespace_number;
    r.updated_at_s = updated_at_s;
    r.expires_at_wall_ms = expires_at_ms == 0 ? 0 : std::uint64_t(std::int64_t(expires_at_ms) + wall_offset_ms());
    r.key = key;
    r.content_type = content_type;
    r.value = value;
    std::vector<char>& out = open_batch();
    const std::size_t before = out.size();
    note_clock(out);
    append(r, out);
    return answer(appended(out.size() - before));
}

journal::ticket journal::erase(std::uint32_t namespace_number, std::string_view key) {
    if (_options.log == log_mode::off) return unlogged();
    std::vector<char>& out = open_batch();
    const std::size_t before = out.size();
    note_clock(out);
    append(erase_record{namespace_number, key}, out);
    return answer(appended(out.size() - before));
}

namespace_state_record record_of(const store::namespace_record& n, std::int64_t wall_offset_ms) {
    namespace_state_record r;
    r.id = n.id;
    r.number = n.number;
    r.ttl_support = n.ttl_support;
    r.deleting = n.deleting;
    r.created_at_s = n.created_at_s;
    r.provisioned_at_s = n.provisioned_at_s;
    r.provisioned_at_wall_ms = std::uint64_t(std::int64_t(n.provisioned_at_ms) + wall_offset_ms);
    r.delete_requested_at_s = n.delete_requested_at_s;
    r.deleted_at_wall_ms = n.deleting ? std::uint64_t(std::int64_t(n.deleted_at_ms) + wall_offset_ms) : 0;
    r.name = n.name;
    r.organization = n.organization;
    return r;
}

journal::ticket journal::namespace_changed(const store::namespace_record& record) {
    if (_options.log == log_mode::off) return unlogged();
    std::vector<char>& out = open_batch();
    const std::size_t before = out.size();
    note_clock(out);
    append(record_of(record, wall_offset_ms()), out);
    return answer(appended(out.size() - before));
}

// --- acknowledging -----------------------------------------------------

bool journal::acknowledged(ticket t) const {
    if (_held_from != 0 && t >= _held_from) return false;
    if (lost(t)) return false;
    return _options.log != log_mode::always || t <= _durable;
}

bool journal::wait(ticket t, waiter& w) {
    RINGKV_DEBUG_ASSERT(t != 0 && t <= _appended);
    if (acknowledged(t)) return false;
    w.awaited = t;
    w.next_waiting = nullptr;
    if (_waiting_tail != nullptr) _waiting_tail->next_waiting = &w; else _waiting_head = &w;
    _waiting_tail = &w;
    // FIFO: tickets are awaited right after their writes, so the list is
    // nearly sorted (a caller on another core registers a little late); a
    // waiter behind a later ticket is answered with it, a batch later at
    // most. The flush that answers it runs later, never from here.
    if (has_work()) io::spawn(flush_once());
    return true;
}

// Answers the waiters at the front whose fate is known: acknowledged, or
// lost with a distrusted log (507).
void journal::notify_waiters() {
    while (_waiting_head != nullptr && (acknowledged(_waiting_head->awaited) || lost(_waiting_head->awaited))) {
        waiter* w = _waiting_head;
        _waiting_head = w->next_waiting;
        if (_waiting_head == nullptr) _waiting_tail = nullptr;
        w->ready(!lost(w->awaited));
    }
}

// --- flushing ----------------------------------------------------------

bool journal::has_work() const { return !_flushing && (write_due() || sync_wanted()); }

// A batch waits to be written, and the disk has not just refused it (a
// refused one is tried again after retry_ms; the records written before
// it are fsync'd meanwhile).
bool journal::write_due() const {
    return !_batches.empty() && (!_failed || _loop.now_ms() >= _retry_at_ms);
}

// The everysec fsync is due, or the loop is stopping with records written
// and not yet fsync'd (a clean stop under everysec loses nothing).
bool journal::sync_wanted() const {
    return _sync_due || (_loop.stopping() && _written_unsynced > _durable && !_fd_distrusted);
}

std::uint64_t journal::unsaved() const {
    if (_options.log == log_mode::always) return 0;  // acknowledged only once durable
    const ticket saved = std::max(_durable, _snapshot_covered);
    return _appended > saved ? _appended - saved : 0;
}

void journal::kick() {
    if (_waiting_head != nullptr && (acknowledged(_waiting_head->awaited) || lost(_waiting_head->awaited))) {
        notify_waiters();
    }
    if (has_work()) io::spawn(flush_once());
}

// One unit of log I/O: the oldest batch (written, then fsync'd when the
// mode or a seal asks), or the everysec fsync. One at a time per core; the
// loop starts the next from its iteration hook, so writes that arrive
// meanwhile gather into one batch.
io::task<> journal::flush_once() {
    _flushing = true;
    _loop.hold();
    drop_covered();
    if (write_due()) {
        batch& b = _batches.front();  // deque: stays put while others are pushed
        b.in_flight = true;
        if (co_await write_out(b)) batch_done();
    } else if (sync_wanted()) {
        _sync_due = false;
        const ticket covered = _written_unsynced;
        // The file this fsync is of: a snapshot's cut may move _fd and
        // _generation to the next log while it runs.
        const int fd = _fd;
        const std::uint64_t generation = _generation;
        const int result = co_await sync_log(fd);
        if (result < 0) {
            distrust(fd, generation, -result);
        } else {
            _durable = std::max(_durable, covered);
            _last_sync_ms = _loop.now_ms();
        }
    }
    _flushing = false;
    _loop.release();
}

io::task<bool> journal::write_out(batch& b) {
    while (b.written < b.bytes.size()) {
        const int result = co_await write_at(b.fd, b.bytes.data() + b.written, unsigned(b.bytes.size() - b.written),
                                             b.offset + b.written);
        if (result <= 0) {
            fail(result == 0 ? ENOSPC : -result);
            co_return false;
        }
        b.written += std::size_t(result);
    }
    if (_options.log == log_mode::always || b.seal) {
        const int result = co_await sync_log(b.fd);
        if (result < 0) {
            distrust(b.fd, b.generation, -result);
            co_return false;
        }
    }
    co_return true;
}

// Batches for a log older than the newest durable snapshot hold nothing it
// lacks (their records were made before its cut): one the disk refused is
// not tried again, and the batches of the new log behind it go ahead.
// From the flush only, or while none runs (a batch being written is left).
void journal::drop_covered() {
    bool dropped = false;
    while (!_batches.empty() && _batches.front().generation < _snapshot_generation) {
        const batch& b = _batches.front();
        if (b.seal && b.fd != _fd) ::close(b.fd);
        _pending_bytes -= b.bytes.size();
        _batches.pop_front();
        dropped = true;
    }
    if (dropped && _failed) {
        _failed = false;
        _retry_at_ms = 0;
        std::fprintf(stderr,
                     "ringkv: core %u: the log's unwritten records are in snapshot %" PRIu64 "; writes are accepted\n",
                     _core, _snapshot_generation);
    }
}

void journal::batch_done() {
    batch& b = _batches.front();
    const bool synced = _options.log == log_mode::always || b.seal;
    if (synced) _durable = std::max(_durable, b.last);
    else _written_unsynced = std::max(_written_unsynced, b.last);
    if (synced) _last_sync_ms = _loop.now_ms();
    if (b.seal) ::close(b.fd);  // fsync'd above; a close of a regular file does not block
    _pending_bytes -= b.bytes.size();
    if (_failed) {
        _failed = false;
        std::fprintf(stderr, "ringkv: core %u: the log is written again; writes are accepted\n", _core);
    }
    b.bytes.clear();
    if (_spare.size() < spare_max && b.bytes.capacity() <= spare_bytes_max) _spare.push_back(std::move(b.bytes));
    _batches.pop_front();
    notify_waiters();
}

// The disk refused a write: writes are refused (507) until a retry
// succeeds; writes waiting for their records are answered 507 now (their
// records stay queued and reach the disk on a retry). Acknowledged records
// are still in the batches, never dropped.
void journal::fail(int error) {
    ++_stats.write_errors;
    if (!_failed) {
        std::fprintf(stderr, "ringkv: core %u: writing the log failed (%s); writes get 507 until it succeeds\n", _core,
                     describe(error).c_str());
    }
    _failed = true;
    _retry_at_ms = _loop.now_ms() + retry_ms;
    while (_waiting_head != nullptr) {
        waiter* w = _waiting_head;
        _waiting_head = w->next_waiting;
        w->ready(false);
    }
    _waiting_tail = nullptr;
}

// One fdatasync of a log file; 0 or -errno. Counted, and failed on purpose
// where a test asks (persist_options::fail_log_fsync_from).
io::task<int> journal::sync_log(int fd) {
    int result = co_await sync_data(fd);
    ++_stats.fsyncs;
    if (_options.fail_log_fsync_from != 0 && _stats.fsyncs >= _options.fail_log_fsync_from &&
        _stats.fsyncs <= _options.fail_log_fsync_to) {
        result = -EIO;
    }
    if (result < 0) ++_stats.fsync_errors;
    co_return result;
}

// An fsync of `fd` (a log file, or the directory entry of a new one)
// failed. The kernel may have dropped the pages it was to write, and a
// later fsync that succeeds would not say so: nothing written to that file
// since its last good fsync can be counted on, and it is never written
// again. Its batches are dropped; every record not yet acknowledged is
// lost (its writer is answered 507, though the change stays in memory and
// reaches the next snapshot, like a write that timed out); writes are
// refused until a snapshot of a later generation is durable (recover()).
// From the called flush only: the front batch (if any is in flight) is
// the failed one, and nothing touches it after this.
void journal::distrust(int fd, std::uint64_t generation, int error) {
    if (!_distrusted) {
        std::fprintf(stderr,
                     "ringkv: core %u: an fsync of the log failed (%s); the log file is not trusted again: writes get "
                     "507 until a snapshot is durable\n",
                     _core, describe(error).c_str());
        _lost_after = _durable;
    }
    _distrusted = true;
    _distrusted_generation = std::max(_distrusted_generation, generation);
    _lost_through = _appended;
    if (fd == _fd) _fd_distrusted = true;
    for (auto it = _batches.begin(); it != _batches.end();) {
        if (it->fd != fd) {
            ++it;
            continue;
        }
        if (it->seal && it->fd != _fd) ::close(it->fd);
        _pending_bytes -= it->bytes.size();
        it = _batches.erase(it);
    }
    if (_batches.empty()) _failed = false;  // nothing left to retry
    _sync_due = false;
    while (_waiting_head != nullptr) {
        waiter* w = _waiting_head;
        _waiting_head = w->next_waiting;
        w->ready(false);
    }
    _waiting_tail = nullptr;
    if (!_recovering) io::spawn(recover());
}

// Takes snapshots until one of a later generation than the distrusted log
// is durable (snapshot_durable() clears it), or the server stops (its last
// snapshot is taken on the way out anyway).
io::task<> journal::recover() {
    _recovering = true;
    _loop.hold();
    __kernel_timespec pause{recovery_retry_ms / 1000, (recovery_retry_ms % 1000) * 1'000'000};
    while (_distrusted && !_loop.stopping()) {
        const snapshot_outcome done = co_await take_snapshot(_options);
        if (!done.ok && !done.busy) {
            std::fprintf(stderr, "ringkv: core %u: the snapshot after the failed fsync failed: %s; trying again\n", _core,
                         done.error.c_str());
        }
        if (_distrusted && !_loop.stopping()) co_await sleep_for(&pause);
    }
    _loop.release();
    _recovering = false;
}

void journal::snapshot_durable(std::uint64_t generation) {
    if (generation == _cut_generation) {
        _snapshot_covered = std::max(_snapshot_covered, _cut_ticket);
        _snapshot_generation = generation;
        if (!_flushing) drop_covered();
    }
    if (!_distrusted || generation <= _distrusted_generation) return;
    _distrusted = false;
    std::fprintf(stderr, "ringkv: core %u: snapshot %" PRIu64 " is durable; writes are accepted again\n", _core,
                 generation);
}

// --- snapshots ---------------------------------------------------------

std::optional<journal::snapshot_claim> journal::claim_snapshot() {
    if (_snapshot_claimed) return std::nullopt;
    _snapshot_claimed = true;
    return snapshot_claim{_next_generation++, _newest_logs};
}

void journal::end_snapshot(bool ok, double ms, std::uint64_t bytes) {
    _snapshot_claimed = false;
    if (!ok) {
        ++_stats.snapshot_failures;
        return;
    }
    ++_stats.snapshots;
    _stats.last_snapshot_ms = ms;
    _stats.last_snapshot_bytes = bytes;
}

std::string journal::rotate(std::uint64_t generation) {
    const int old_fd = _fd;
    if (_fd_distrusted) {
        // Nothing of it is pending (distrust() dropped it) and nothing more
        // goes to it: closed once the new file is open.
        if (std::string error = open_log(generation); !error.empty()) {
            _fd = old_fd;
            return error;
        }
        ::close(old_fd);
        _fd_distrusted = false;
        return {};
    }
    if (!_batches.empty() && _batches.back().fd == old_fd && !_batches.back().in_flight) {
        _batches.back().seal = true;
    } else {
        batch seal;
        seal.fd = old_fd;
        seal.generation = _generation;  // still the old one: open_log() moves it
        seal.seal = true;
        seal.last = _appended;
        _batches.push_back(std::move(seal));
    }
    if (std::string error = open_log(generation); !error.empty()) {
        _batches.back().seal = false;  // keep writing the old file
        if (_batches.back().bytes.empty() && _batches.back().fd == old_fd && !_batches.back().in_flight &&
            _batches.size() > 1) {
            _batches.pop_back();
        }
        _fd = old_fd;
        return error;
    }
    return {};
}

std::string journal::cut(std::uint64_t generation, int part_fd, cut_capture* capture) {
    if (_part_state.writing) return "a snapshot part is already being written";
    if (_options.log != log_mode::off) {
        if (std::string error = rotate(generation); !error.empty()) return error;
    }
    _cut_ticket = _appended;
    _cut_generation = generation;
    _held_from = _appended + 1;
    _past_last_cut = _options.log == log_mode::off && _loop.stopping();
    _cut_ms = _loop.now_ms();
    _cut_wall_offset_ms = wall_offset_ms();
    const std::uint64_t freeze_start_ns = base::monotonic_ns();
    _keys.freeze(_frozen);
    _stats.last_freeze_ms = double(base::monotonic_ns() - freeze_start_ns) / 1e6;
    if (capture != nullptr) {
        capture->next_namespace_number = _next_namespace_number;
        capture->wall_offset_ms = _cut_wall_offset_ms;
        capture->clock_offset_ms = _loop.clock_offset_ms();
        _namespaces.for_each([&](const store::namespace_record& n) {
            if (n.status(_cut_ms) != store::namespace_status::gone) capture->namespaces.push_back(n);
        });
    }
    _part_state = {};
    _part_state.writing = true;
    const std::string final_path = _options.dir + "/" + part_name(generation, _core);
    io::spawn(write_part(generation, part_fd, final_path + ".tmp", final_path));
    return {};
}

void journal::when_part_written(part_waiter& waiter) {
    RINGKV_ASSERT(_part_waiter == nullptr);
    if (!_part_state.writing) {
        waiter.part_written();
        return;
    }
    _part_waiter = &waiter;
}

void journal::release_hold() {
    _held_from = 0;
    notify_waiters();
}

// The frozen items, encoded and written by the part writer's thread
// (part_writer.hh), fsync'd and renamed into place; the shard stays frozen
// until the thread is done with its items.
io::task<> journal::write_part(std::uint64_t generation, int fd, std::string temporary, std::string final_path) {
    _loop.hold();
    part_writer::part_job job;
    job.fd = fd;
    append_header({file_kind::snapshot_part, format_version, _core, generation}, job.start);
    job.cut = {_frozen.view(), _cut_ms, _cut_wall_offset_ms};
    job.temporary = std::move(temporary);
    job.final_path = final_path;
    const part_writer::written done = co_await _part_writer.write(_core, std::move(job));
    _keys.thaw();
    _frozen.count = 0;
    _part_state.writing = false;
    _part_state.done = true;
    if (done.error < 0) _part_state.error = final_path + ": " + describe(-done.error);
    _part_state.bytes = done.bytes;
    _part_state.records = done.records;
    _loop.release();
    // Last: on this core, the waiter may go on with the snapshot at once.
    if (part_waiter* waiter = std::exchange(_part_waiter, nullptr)) waiter->part_written();
}

}  // namespace ringkv::persist
