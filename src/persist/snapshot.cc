#include <ringkv/persist/snapshot.hh>

#include "file_ops.hh"

#include <ringkv/base/clock.hh>
#include <ringkv/io/cross_core.hh>
#include <ringkv/persist/format.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/persist/part_writer.hh>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <coroutine>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ringkv::persist {
namespace {

std::vector<char> encode_snapshot(std::uint64_t generation, const journal::cut_capture& capture,
                                  const std::vector<journal::part_state>& parts,
                                  const std::optional<log_set_record>& logs) {
    std::vector<char> out;
    append_header({file_kind::snapshot, format_version, 0, generation}, out);
    snapshot_meta_record meta;
    meta.next_namespace_number = capture.next_namespace_number;
    meta.taken_at_wall_ms = wall_ms();
    meta.parts = std::uint32_t(parts.size());
    append(meta, out);
    append(clock_record{capture.clock_offset_ms}, out);
    std::uint64_t records = 2;
    if (logs) {
        append(*logs, out);
        ++records;
    }
    for (const store::namespace_record& n : capture.namespaces) {
        append(record_of(n, capture.wall_offset_ms), out);
        ++records;
    }
    for (unsigned core = 0; core < parts.size(); ++core) {
        append(part_record{core, parts[core].bytes, parts[core].records}, out);
        ++records;
    }
    append(end_record{records}, out);
    return out;
}

// co_await part_written_call(core): resumes the coordinator with core
// `core`'s part once it is written. One message to that core, which waits
// there for the part (journal::when_part_written), and one back when it is
// done (at once if it is), however long the part takes; on the
// coordinator's own core, no message at all. Not a call awaiting its reply
// (loop::call_sent): the loop would watch for that reply before each
// sleep, for the seconds a paced part takes.
class part_written_call final : public io::message, journal::part_waiter {
public:
    explicit part_written_call(unsigned core) : _core(core) {}

    bool await_ready() {
        if (_core != io::loop::current().core() || journal::local().part().writing) return false;
        _state = journal::local().part();
        return true;
    }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        io::loop& here = io::loop::current();
        _home = here.core();
        if (_core == _home) {
            journal::local().when_part_written(*this);  // writing: await_ready said so
        } else {
            here.send(_core, *this);
        }
    }
    journal::part_state await_resume() { return std::move(_state); }

private:
    void run() override {
        if (!_answered) {  // on _core
            journal::local().when_part_written(*this);
        } else {  // back home
            _waiter.resume();
        }
    }
    void part_written() override {  // on _core: the part is written
        _state = journal::local().part();
        if (_core == _home) {
            _waiter.resume();
            return;
        }
        _answered = true;
        io::loop::current().send(_home, *this);  // this object is the home's from here
    }

    const unsigned _core;
    unsigned _home = 0;
    bool _answered = false;
    journal::part_state _state;
    std::coroutine_handle<> _waiter;
};

// What writing the snapshot file came to.
struct file_written {
    int error = 0;          // 0 or -errno
    bool in_place = false;  // renamed to its final name, durably or not
};

// Writes a whole new file: a temporary name, fsync, rename, directory
// fsync. `fail_directory_sync`: the directory fsync fails with EIO (tests).
io::task<file_written> write_file(std::string directory, std::string path, const std::vector<char>& bytes,
                                  bool fail_directory_sync) {
    const std::string temporary = path + ".tmp";
    int fd = co_await open_at(temporary.c_str(), new_file_flags, new_file_mode);
    if (fd < 0) co_return file_written{fd, false};
    int result = 0;
    std::size_t done = 0;
    while (result >= 0 && done < bytes.size()) {
        result = co_await write_at(fd, bytes.data() + done, unsigned(bytes.size() - done), done);
        if (result == 0) result = -ENOSPC;
        if (result > 0) done += std::size_t(result);
    }
    if (result >= 0) result = co_await sync_data(fd);
    co_await io::close(fd);
    if (result >= 0) result = co_await rename_at(temporary.c_str(), path.c_str());
    if (result < 0) {
        co_await unlink_at(temporary.c_str());
        co_return file_written{result, false};
    }
    // In place from here: a failure below leaves it under its final name.
    const int directory_fd = co_await open_at(directory.c_str(), O_RDONLY | O_DIRECTORY, 0);
    if (directory_fd < 0) co_return file_written{directory_fd, true};
    result = co_await sync_all(directory_fd);
    co_await io::close(directory_fd);
    if (fail_directory_sync && result >= 0) result = -EIO;
    co_return file_written{result < 0 ? result : 0, true};
}

// A snapshot that failed: its files go. A snapshot file already renamed
// into place (its directory fsync failed) is removed first, and its parts
// only once it is gone: a restart loads the newest snapshot file, and one
// that names missing parts would stop the start. If it cannot be removed,
// its parts stay with it (a whole snapshot, loadable, though this run does
// not count it durable and keeps what came before it).
io::task<> remove_failed(std::string directory, std::string path, bool in_place, std::uint64_t generation,
                         std::vector<unsigned> cores) {
    if (in_place) {
        const int result = co_await unlink_at(path.c_str());
        if (result < 0 && result != -ENOENT) {
            std::fprintf(stderr, "ringkv: removing %s after its snapshot failed: %s; its parts are kept with it\n",
                         path.c_str(), std::strerror(-result));
            co_return;
        }
    }
    for (const unsigned core : cores) {
        const std::string part = directory + "/" + part_name(generation, core);
        co_await unlink_at(part.c_str());
    }
}

// The logs of a new generation, made before the cut (see create_logs_now
// in journal.hh for the order and why); "" or the error, after which none
// of them is left unless undo_logs stopped (then ignored by a start).
io::task<std::string> create_logs(std::string directory, std::uint64_t generation, log_set_record set) {
    std::vector<int> fds;
    std::vector<std::string> paths;
    std::string error;
    for (unsigned core = 0; core < set.cores && error.empty(); ++core) {
        paths.push_back(directory + "/" + log_name(generation, core));
        const int fd = co_await open_at(paths.back().c_str(), new_file_flags, new_file_mode);
        if (fd < 0) {
            error = paths.back() + ": " + std::strerror(-fd);
            paths.pop_back();  // taken already: not ours to remove
        } else {
            fds.push_back(fd);
        }
    }
    if (error.empty()) {
        const int directory_fd = co_await open_at(directory.c_str(), O_RDONLY | O_DIRECTORY, 0);
        const int result = directory_fd < 0 ? directory_fd : co_await sync_all(directory_fd);
        if (directory_fd >= 0) co_await io::close(directory_fd);
        if (result < 0) error = directory + ": " + std::strerror(-result);
    }
    // Each log's start; once all are durable, every log's generation_whole
    // record but core 0's; once those are, core 0's. Each step writes its
    // logs, then fdatasyncs each once.
    struct step {
        bool whole;
        unsigned from, to;
    };
    const auto cores = unsigned(fds.size());
    const std::size_t start_bytes = log_start(generation, 0, set).size();
    for (const step s : {step{false, 0, cores}, step{true, 1, cores}, step{true, 0, std::min(1u, cores)}}) {
        for (unsigned core = s.from; core < s.to && error.empty(); ++core) {
            const std::vector<char> bytes = s.whole ? log_whole(generation) : log_start(generation, core, set);
            int result = co_await write_at(fds[core], bytes.data(), unsigned(bytes.size()), s.whole ? start_bytes : 0);
            if (result >= 0 && std::size_t(result) != bytes.size()) result = -ENOSPC;
            if (result < 0) error = paths[core] + ": " + std::strerror(-result);
        }
        for (unsigned core = s.from; core < s.to && error.empty(); ++core) {
            const int result = co_await sync_data(fds[core]);
            if (result < 0) error = paths[core] + ": " + std::strerror(-result);
        }
    }
    for (const int fd : fds) co_await io::close(fd);
    // Blocking calls on this loop (io_uring has no ftruncate here): on
    // this failure path only, on files no longer than a log's start.
    if (!error.empty()) undo_logs(directory, generation, cores);
    co_return error;
}

}  // namespace

io::task<snapshot_outcome> take_snapshot(const persist_options& options) {
    const std::uint64_t start_ns = base::monotonic_ns();
    const unsigned cores = io::loop::current().core_count();
    snapshot_outcome outcome;
    const std::optional<journal::snapshot_claim> claimed =
        co_await io::submit_to(0, [] { return journal::local().claim_snapshot(); });
    if (!claimed) {
        outcome.busy = true;
        outcome.error = "a snapshot is being written";
        co_return outcome;
    }
    const std::uint64_t generation = claimed->generation;
    outcome.generation = generation;
    // The new generation's logs exist, all of them, before any core cuts.
    std::optional<log_set_record> logs;
    bool logs_made = false;
    if (options.log != log_mode::off) {
        logs = log_set_record{cores, claimed->logs_follow};
        outcome.error = co_await create_logs(options.dir, generation, *logs);
        logs_made = outcome.error.empty();
        if (!logs_made) outcome.error = "making the new logs: " + outcome.error;
    }
    // The parts' temporary files, made here with io_uring: creating a file
    // may wait for the filesystem's journal, which a loop must not.
    std::vector<int> part_fds(cores, -1);
    for (unsigned core = 0; core < cores && outcome.error.empty(); ++core) {
        const std::string temporary = options.dir + "/" + part_name(generation, core) + ".tmp";
        part_fds[core] = co_await open_at(temporary.c_str(), new_file_flags, new_file_mode);
        if (part_fds[core] < 0) outcome.error = temporary + ": " + std::strerror(-part_fds[core]);
    }
    journal::cut_capture capture;
    std::vector<unsigned> cut_cores;
    // The cut, core 0 last (see snapshot.hh).
    for (unsigned step = 1; step <= cores && outcome.error.empty(); ++step) {
        const unsigned core = step % cores;
        journal::cut_capture* wanted = core == 0 ? &capture : nullptr;
        const int part_fd = part_fds[core];
        outcome.error = co_await io::submit_to(core, [generation, part_fd, wanted] {
            return journal::local().cut(generation, part_fd, wanted);
        });
        if (outcome.error.empty()) cut_cores.push_back(core);
    }
    // The part files no cut took (a failure before their core's cut).
    for (unsigned core = 0; core < cores; ++core) {
        if (part_fds[core] < 0 || std::find(cut_cores.begin(), cut_cores.end(), core) != cut_cores.end()) continue;
        co_await io::close(part_fds[core]);
        const std::string temporary = options.dir + "/" + part_name(generation, core) + ".tmp";
        co_await unlink_at(temporary.c_str());
    }
    for (const unsigned core : cut_cores) co_await io::submit_to(core, [] { journal::local().release_hold(); });
    if (logs_made && !cut_cores.empty()) {
        co_await io::submit_to(0, [generation] { journal::local().logs_created(generation); });
    } else if (logs_made) {
        // Made, but no core moved to them (every cut failed): nothing names
        // them, and the next logs follow the ones before. Removed, or each
        // failed try (one a second after a failed fsync) would leave a set;
        // undone in steps (blocking, as in create_logs).
        undo_logs(options.dir, generation, cores);
    }
    // Wait for every part that was started, even after a failure: its
    // writer holds the shard frozen until it ends. Each core says once when
    // its part is written; the coordinator never asks again and again.
    std::vector<journal::part_state> parts(cores);
    for (const unsigned core : cut_cores) {
        parts[core] = co_await part_written_call(core);
        if (!parts[core].error.empty() && outcome.error.empty()) outcome.error = parts[core].error;
    }
    const std::string path = options.dir + "/" + snapshot_name(generation);
    bool snapshot_in_place = false;
    if (outcome.error.empty()) {
        const std::vector<char> bytes = encode_snapshot(generation, capture, parts, logs);
        const bool fail_directory_sync = options.fail_snapshot_directory_sync != 0 &&
                                         generation == options.first_generation + options.fail_snapshot_directory_sync;
        const file_written file = co_await write_file(options.dir, path, bytes, fail_directory_sync);
        if (file.error < 0) outcome.error = path + ": " + std::strerror(-file.error);
        snapshot_in_place = file.in_place;
        outcome.bytes = bytes.size();
    }
    for (const unsigned core : cut_cores) {
        outcome.bytes += parts[core].bytes;
        outcome.keys += parts[core].records;
        co_await io::submit_to(core, [] { journal::local().forget_part(); });
    }
    if (outcome.error.empty()) {
        // Durable: what came before it is no longer needed.
        for (const unsigned core : cut_cores) {
            co_await io::submit_to(core, [generation] { journal::local().snapshot_durable(generation); });
        }
        // What came before it goes, on the part writer's thread (paced,
        // in steps: part_writer.hh); the answer does not wait for it.
        journal::local().parts().remove_before(generation);
        outcome.ok = true;
        outcome.path = path;
    } else {
        co_await remove_failed(options.dir, path, snapshot_in_place, generation, cut_cores);
    }
    outcome.ms = double(base::monotonic_ns() - start_ns) / 1e6;
    co_await io::submit_to(0, [ok = outcome.ok, ms = outcome.ms, bytes = outcome.bytes] {
        journal::local().end_snapshot(ok, ms, bytes);
    });
    co_return outcome;
}

}  // namespace ringkv::persist
