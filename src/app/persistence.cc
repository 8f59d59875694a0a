#include "persistence.hh"

#include <ringkv/io/ops.hh>
#include <ringkv/net/http/error_response.hh>
#include <ringkv/persist/snapshot.hh>

#include <fcntl.h>
#include <liburing.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace ringkv::app {
namespace {

persist::log_mode mode_of(config::config::persist_settings::log_policy policy) {
    using policy_t = config::config::persist_settings::log_policy;
    switch (policy) {
        case policy_t::off: return persist::log_mode::off;
        case policy_t::always: return persist::log_mode::always;
        case policy_t::everysec: break;
    }
    return persist::log_mode::everysec;
}

std::string failed(const std::string& what, int error) { return what + ": " + std::strerror(error); }

// `path` as one shell word, for a command to copy: as it is when it holds
// nothing a shell reads specially, else in single quotes.
std::string shell_word(const std::string& path) {
    const bool plain = !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-+,:@%", c) != nullptr;
    });
    if (plain) return path;
    std::string quoted = "'";
    for (const char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

// A data directory that group or others may read or enter: said on stderr,
// never changed (the operator chose its mode, or a tool did). The files
// ringkv writes are 0600 whatever the directory, but a file put there by
// other means keeps its own mode, and they hold bearer tokens.
void warn_if_open(const std::string& dir, mode_t mode) {
    constexpr mode_t group_read_or_search = S_IRGRP | S_IXGRP;
    constexpr mode_t others_read_or_search = S_IROTH | S_IXOTH;
    const bool group = (mode & group_read_or_search) != 0, others = (mode & others_read_or_search) != 0;
    if (!group && !others) return;
    const char* who = group && others ? "group and others" : group ? "its group" : "others";
    std::fprintf(stderr,
                 "ringkv: warning: --data-dir %s is mode %04o: %s can list or enter it, and the files in it hold the "
                 "organizations' bearer tokens (ringkv writes its own 0600, but a file copied in keeps its mode); to "
                 "make it private: chmod 700 %s\n",
                 dir.c_str(), unsigned(mode & 07777), who, shell_word(dir).c_str());
}

// The directory exists (made if missing: private, 0700, as it holds the
// organizations' bearer tokens) and takes a written, fsync'd file. The
// probe is an unnamed file (O_TMPFILE), so no name in the directory is
// opened and nothing there (a person's file, a symlink to one) is touched;
// where the file system has no unnamed files, a name of this process's,
// made new (O_EXCL, O_NOFOLLOW) and removed at once.
std::string check_writable(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return failed("--data-dir " + dir, errno);
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0) return failed("--data-dir " + dir, errno);
    if (!S_ISDIR(info.st_mode)) return "--data-dir " + dir + ": not a directory";
    warn_if_open(dir, info.st_mode);
    std::string probe;
    int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {  // EISDIR: a kernel that predates O_TMPFILE
        probe = dir + "/.write-test-" + std::to_string(::getpid());
        fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) return failed("--data-dir " + dir + " cannot be written", errno);
    const char byte = 0;
    const bool ok = ::write(fd, &byte, 1) == 1 && ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!probe.empty()) ::unlink(probe.c_str());
    if (!ok) return failed("--data-dir " + dir + " cannot be written", error);
    return {};
}

// The io_uring operations the journal uses, named when missing.
std::string probe_file_operations() {
    struct required {
        int opcode;
        const char* name;
    };
    static constexpr required operations[] = {
        {IORING_OP_WRITE, "IORING_OP_WRITE"},       {IORING_OP_FSYNC, "IORING_OP_FSYNC"},
        {IORING_OP_OPENAT, "IORING_OP_OPENAT"},     {IORING_OP_RENAMEAT, "IORING_OP_RENAMEAT"},
        {IORING_OP_UNLINKAT, "IORING_OP_UNLINKAT"},
    };
    io_uring_probe* probe = io_uring_get_probe();
    if (probe == nullptr) return "io_uring: the kernel cannot list its operations";
    std::string missing;
    for (const required& op : operations) {
        if (!io_uring_opcode_supported(probe, op.opcode)) missing += std::string(" ") + op.name;
    }
    io_uring_free_probe(probe);
    return missing.empty() ? std::string() : "--data-dir: this kernel's io_uring lacks" + missing;
}

io::task<> snapshot_route(const persist::persist_options& options, net::http::response_writer& writer) {
    const persist::snapshot_outcome done = co_await persist::take_snapshot(options);
    if (done.busy) {
        net::http::write_error(writer, {409, net::http::error_code::bad_request, "a snapshot is being written"});
        co_return;
    }
    if (!done.ok) {
        const std::string detail = "the snapshot could not be written: " + done.error;
        net::http::write_error(writer, {507, net::http::error_code::unexpected, detail});
        co_return;
    }
    char body[1024];
    const int bytes = std::snprintf(body, sizeof(body),
                                    R"({"data":{"path":"%s","generation":%)" PRIu64 R"(,"keys":%)" PRIu64
                                    R"(,"bytes":%)" PRIu64 R"(,"ms":%.3f}})",
                                    done.path.c_str(), done.generation, done.keys, done.bytes, done.ms);
    writer.write(200, "application/json", {body, std::size_t(std::min<int>(bytes, sizeof(body) - 1))});
}

void print_snapshot(const persist::snapshot_outcome& done, const char* why) {
    if (done.ok) {
        std::fprintf(stderr, "ringkv: snapshot (%s): %s, %" PRIu64 " keys, %" PRIu64 " bytes in %.1f ms\n", why,
                     done.path.c_str(), done.keys, done.bytes, done.ms);
    } else if (!done.busy) {
        std::fprintf(stderr, "ringkv: snapshot (%s) failed: %s\n", why, done.error.c_str());
    }
}

// How often the shutdown snapshot asks again while another is written.
constexpr std::uint64_t busy_retry_ns = 10'000'000;

// A snapshot nobody awaits (the timer, SIGTERM); holds the loop until done.
// The one at shutdown waits out a snapshot being written (the timer's, a
// POST's), whose cut came before the last writes, and then takes its own.
io::task<> background_snapshot(const persist::persist_options& options, io::loop& loop, const char* why) {
    loop.hold();
    persist::snapshot_outcome done = co_await persist::take_snapshot(options);
    while (done.busy && loop.stopping()) {
        co_await io::sleep_ns(busy_retry_ns);
        done = co_await persist::take_snapshot(options);
    }
    print_snapshot(done, why);
    loop.release();
}

}  // namespace

persistence::persistence(const config::config& settings, unsigned cores) : _cores(cores) {
    _options.dir = settings.persist.data_dir;
    _options.log = mode_of(settings.persist.log);
    _options.snapshot_every_s = settings.persist.snapshot_every_s;
    _options.snapshot_bytes_per_s = std::uint64_t(settings.persist.snapshot_mb_per_s) * 1'000'000;
    // For tests of a failing disk (docs/persistence.md): "N" or "N-M", the
    // log fsyncs of each core that fail with EIO.
    if (const char* failing = std::getenv("RINGKV_TEST_FAIL_LOG_FSYNC")) {
        unsigned long long from = 0, to = 0;
        const int fields = std::sscanf(failing, "%llu-%llu", &from, &to);
        _options.fail_log_fsync_from = fields >= 1 ? from : 0;
        _options.fail_log_fsync_to = fields == 2 ? to : _options.fail_log_fsync_from;
    }
    // And "N": the directory fsync after this run's Nth snapshot file is
    // renamed into place fails with EIO.
    if (const char* failing = std::getenv("RINGKV_TEST_FAIL_SNAPSHOT_DIRECTORY_SYNC")) {
        _options.fail_snapshot_directory_sync = std::strtoull(failing, nullptr, 10);
    }
}

persistence::~persistence() {
    _parts.reset();  // joins the part writer's thread (the loops have ended)
    if (_lock_fd >= 0) ::close(_lock_fd);
}

std::string persistence::prepare() {
    if (!enabled()) return {};
    if (std::string error = check_writable(_options.dir); !error.empty()) return error;
    if (std::string error = probe_file_operations(); !error.empty()) return error;
    const std::string lock = _options.dir + "/LOCK";
    _lock_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (_lock_fd < 0) return failed(lock, errno);
    if (::flock(_lock_fd, LOCK_EX | LOCK_NB) != 0) {
        return "--data-dir " + _options.dir + " is in use by another ringkv (" + lock + " is locked)";
    }
    persist::load_result loaded = persist::load(_options.dir, _cores);
    if (!loaded.error.empty()) return "cannot start from --data-dir: " + loaded.error;
    _loaded = std::move(loaded.state);
    _options.first_generation = _loaded.generation_max + 1;
    // Before this run's logs are made: a writer that cannot start leaves
    // the directory as it found it.
    if (std::string error = start_part_writer(); !error.empty()) return error;
    if (_options.log != persist::log_mode::off) {
        const persist::log_set_record logs{_cores, _loaded.log_generation};
        if (std::string error = persist::create_logs_now(_options.dir, _options.first_generation, logs); !error.empty()) {
            return "--data-dir: making this run's logs: " + error;
        }
    }
    return {};
}

std::string persistence::start_part_writer() {
    // Its constructor starts threads (std::system_error when the kernel
    // refuses one: RLIMIT_NPROC, a stack that cannot be mapped) and makes
    // eventfds (std::runtime_error); either is a start-up error, said in
    // one line, never an uncaught exception.
    try {
        _parts = std::make_unique<persist::part_writer>(_cores, _options.snapshot_bytes_per_s, _options.dir);
    } catch (const std::exception& e) {
        return std::string("--data-dir: the snapshot part writer could not start (its thread or eventfd): ") + e.what();
    }
    return {};
}

void persistence::add_routes(control::admin_table& table) const {
    if (!enabled()) return;
    const persist::persist_options& options = _options;
    table.add("/_ringkv/snapshot", {net::http::method::post},
              [&options](net::http::request&, net::http::response_writer& writer) {
                  return snapshot_route(options, writer);
              });
}

std::string persistence::restore(unsigned core, api::core_state& state, io::loop& loop) {
    if (!enabled()) return {};
    // Every core alike, before it serves: the clock as the files left it.
    // Times in the files are on it (the machine's wall clock plus the lead).
    loop.advance_clock(_loaded.clock_offset_ms);
    const store::instant now{loop.now_ms(), loop.wall_s()};
    const persist::applied done = persist::apply(_loaded, core, state.keys, state.namespaces, now,
                                                 persist::wall_ms() + _loaded.clock_offset_ms);
    state.next_namespace_number = _loaded.next_namespace_number;
    std::vector<persist::key_change>().swap(_loaded.changes[core]);  // this core's own entry, read by no other
    _restored_keys.fetch_add(done.keys, std::memory_order_relaxed);
    if (!done.error.empty()) return "cannot start from --data-dir " + _options.dir + ": " + done.error;
    if (_restored_cores.fetch_add(1, std::memory_order_acq_rel) + 1 == _cores) {
        // The last core: every other is done reading the loaded files.
        if (_loaded.records != 0) {
            std::fprintf(stderr,
                         "ringkv: restored %zu namespaces and %" PRIu64 " keys from %s (%" PRIu64
                         " records, %.1f MB read in %.2f s)\n",
                         _loaded.namespaces.size(), _restored_keys.load(std::memory_order_relaxed),
                         _options.dir.c_str(), _loaded.records, double(_loaded.bytes) / 1e6, _loaded.seconds);
        }
        _loaded.files.clear();
        _loaded.files.shrink_to_fit();
    }
    return {};
}

core_persistence::core_persistence(persistence& shared, io::loop& loop, api::core_state& state)
    : _shared(shared), _loop(loop), _state(state) {}

core_persistence::~core_persistence() {
    if (_journal) {
        // What the log did, for people and for bench/persist.sh (fsyncs per
        // write under --log always).
        const persist::journal::counters& seen = _journal->stats();
        std::fprintf(stderr,
                     "ringkv: core %u: log: %" PRIu64 " records, %" PRIu64 " bytes, %" PRIu64 " fsyncs, %" PRIu64
                     " write errors, %" PRIu64 " fsync errors\n",
                     _loop.core(), seen.records, seen.log_bytes, seen.fsyncs, seen.write_errors, seen.fsync_errors);
        // Said, and the exit status says it too: a stop that loses what was
        // acknowledged is not a clean one.
        if (const std::uint64_t unsaved = _journal->unsaved(); unsaved != 0) {
            std::fprintf(stderr,
                         "ringkv: core %u: %" PRIu64
                         " acknowledged changes are durable neither in the log nor in a snapshot: they are lost\n",
                         _loop.core(), unsaved);
            _shared.note_unsaved();
        }
        persist::journal::set_local(nullptr);
        _state.changes = nullptr;
    }
}

void core_persistence::add_collector(metrics::core_metrics& metrics) const {
    if (!_journal) return;
    const persist::journal& log = *_journal;
    const bool snapshots = _loop.core() == 0;
    const persist::part_writer& parts = _shared.parts();
    metrics.add_collector([&log, &parts, snapshots](metrics::sample_sink& out) {
        const persist::journal::counters& seen = log.stats();
        out.counter("ringkv_log_records_total", "Records appended to this core's log (--data-dir).", seen.records);
        out.counter("ringkv_log_bytes_total", "Bytes appended to this core's log.", seen.log_bytes);
        out.counter("ringkv_log_fsyncs_total", "fdatasync calls on this core's log.", seen.fsyncs);
        out.counter("ringkv_log_fsync_errors_total",
                    "Failed fsyncs of this core's log (the log is replaced by a snapshot).", seen.fsync_errors);
        out.counter("ringkv_log_write_errors_total", "Log writes the disk refused (full disk: writes get 507).",
                    seen.write_errors);
        out.gauge("ringkv_log_accepting", "1 while this core's log takes writes, 0 while they get 507.",
                  log.accepting() ? 1 : 0);
        out.gauge("ringkv_snapshot_last_freeze_seconds",
                  "How long this core's loop spent freezing its keys at the last snapshot's cut.",
                  seen.last_freeze_ms / 1000);
        out.gauge("ringkv_snapshot_kept_bytes",
                  "Memory this core keeps alive for the snapshot being written: what its writes replaced or "
                  "deleted since the cut, retired in steps once the part is written (counted against --max-memory "
                  "until then).",
                  double(log.snapshot_kept_bytes()));
        if (!snapshots) return;
        out.counter("ringkv_snapshots_total", "Snapshots written and made durable.", seen.snapshots);
        out.counter("ringkv_snapshot_failures_total", "Snapshots that could not be written.", seen.snapshot_failures);
        out.gauge("ringkv_snapshot_last_duration_seconds", "How long the last durable snapshot took.",
                  seen.last_snapshot_ms / 1000);
        out.gauge("ringkv_snapshot_last_bytes", "The size of the last durable snapshot (its file and parts).",
                  double(seen.last_snapshot_bytes));
        out.counter("ringkv_snapshot_writer_starved_total",
                    "Times the snapshot part writer fell 10 s behind with a part (its cut, or its pace) and moved "
                    "to normal priority.",
                    parts.starved_count());
    });
}

std::string core_persistence::start() {
    if (!_shared.enabled()) return {};
    _journal = std::make_unique<persist::journal>(_shared.options(), _loop, _state.keys, _state.namespaces,
                                                  _state.next_namespace_number, _shared.parts());
    if (std::string error = _journal->open(); !error.empty()) return error;
    persist::journal::set_local(_journal.get());
    _state.changes = _journal.get();
    _journal->start();
    if (_loop.core() != 0) return {};
    // Core 0 starts the timed snapshots and the last one on SIGTERM/SIGINT.
    const persist::persist_options& options = _shared.options();
    if (options.snapshot_every_s != 0) {
        _next_snapshot_ms = _loop.now_ms() + std::uint64_t(options.snapshot_every_s) * 1000;
        _loop.on_tick([this, &options] {
            if (_loop.stopping() || _loop.now_ms() < _next_snapshot_ms) return;
            _next_snapshot_ms = _loop.now_ms() + std::uint64_t(options.snapshot_every_s) * 1000;
            io::spawn(background_snapshot(options, _loop, "timer"));
        });
    }
    _loop.on_stop([this, &options](bool forced) {
        if (!forced) io::spawn(background_snapshot(options, _loop, "shutdown"));
    });
    return {};
}

}  // namespace ringkv::app
