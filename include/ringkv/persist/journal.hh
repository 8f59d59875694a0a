#pragma once
// One core's side of persistence: its append-only log, and its part of a
// snapshot. Only its own core calls it (the snapshot coordinator reaches it
// with submit_to), so nothing here is shared or locked.
//
// The log. Each write the core makes is encoded into the open batch of this
// core's log buffer. Once per loop iteration, if no write is in flight, the
// oldest batch goes to the kernel as one io_uring write, then (--log
// always) one fdatasync: every write of an iteration shares one fsync (group
// commit), and writes arriving meanwhile gather in the next batch. A write
// under --log always is acknowledged when the fsync that covers it has
// completed; under everysec at once, with an fdatasync each second; off
// writes no log.
//
// Bound: the batches hold at most log_buffer_bytes_max; past it, or while
// the disk refuses writes (ENOSPC, EFBIG, EIO), accepting() is false and the
// API answers writes 507 before they change anything. A failed write is
// kept and retried every retry_ms; acknowledged records are never dropped.
//
// A failed fsync is different: Linux may have dropped the dirty pages it
// was to write and reports the error once, so a later fsync that succeeds
// proves nothing ("fsyncgate"). The log file is not trusted again: its
// unwritten batches are dropped, the writes waiting on it are answered 507,
// writes are refused (507) and a snapshot is taken (retried each
// recovery_retry_ms) to make the state, held whole in memory, durable in a
// new generation. Once a snapshot of a later generation is durable, writes
// are accepted again.
//
// A snapshot's cut, on this core: the log moves to the new generation's
// file, the shard is frozen (its items at this instant, shard::freeze), and
// the part writer's thread (part_writer.hh) encodes and writes them to the
// part file, at idle priority, while the loop serves requests. Writes made after the cut are not
// acknowledged until every core has cut (release_hold()): no client can see
// a write that the snapshot lacks while it holds a later one.

#include <ringkv/io/loop.hh>
#include <ringkv/io/task.hh>
#include <ringkv/persist/format.hh>
#include <ringkv/store/change_log.hh>
#include <ringkv/store/namespaces.hh>
#include <ringkv/store/shard.hh>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringkv::persist {

enum class log_mode { off, everysec, always };

class part_writer;

// A namespace as the files record it: its monotonic instants made
// wall-clock (wall ms = monotonic ms + wall_offset_ms).
namespace_state_record record_of(const store::namespace_record& n, std::int64_t wall_offset_ms);

// The logs of a generation, one per core, made before any is written
// (docs/persistence.md, "Generations"), in three steps, each durable in
// every log before the next begins:
// 1. every file, empty, and an fsync of the directory, so that all their
//    names are durable together;
// 2. each one's header and log set record (log_start), fdatasync'd;
// 3. each one's generation_whole record (log_whole), fdatasync'd: every
//    log's but core 0's, then core 0's.
// Records are written only after that. A crash before step 3 ends leaves
// logs that hold nothing, which the loader ignores; a generation_whole
// record in any log proves step 2 done (every log exists and has its set),
// and one in core 0's log, or any record after the start of any log,
// proves step 3 done. So a log cut short before its generation_whole
// record is known to be damage, not a crash, unless it is core 0's (and
// no log holds a record). The bytes of step 2:
std::vector<char> log_start(std::uint64_t generation, unsigned core, const log_set_record& set);
// The bytes of step 3, which go right after log_start's (at its size; it is
// the same for every core).
std::vector<char> log_whole(std::uint64_t generation);
// At start-up, before the cores run (blocking calls); "" or the error.
// The snapshot's cut makes its own with io_uring (snapshot.cc).
std::string create_logs_now(const std::string& dir, std::uint64_t generation, const log_set_record& set);
// Removes the logs of cores [0, cores) of `generation` after their making
// failed, or when no core moved to them: the making undone in reverse, each
// step durable in every log before the next, so that a crash at any point
// leaves logs the loader reads as a making a crash cut short (ignored):
// 1. core 0's generation_whole record dropped (truncated to its start's
//    end), fdatasync'd: while it is there it proves every log whole, and a
//    log without its own would be refused as cut short;
// 2. every other log's generation_whole record dropped, fdatasync'd: while
//    any is there it proves every log has its set, and an emptied log would
//    be refused;
// 3. every log truncated to 0, fdatasync'd: while any holds its set, that
//    set names the others, and a log already removed would be refused as
//    missing;
// 4. every log removed, then the directory fsync'd.
// A step that fails stops the undo, the logs left as they are (a state of
// the list above, which the loader accepts; a run never follows them):
// "" or why it stopped. Blocking calls, on small files (at most a log's
// start), on this failure path only. `steps_max`: the undo stops (as a
// crash would) after that many file steps (a log shrunk, or removed): tests.
std::string undo_logs(const std::string& dir, std::uint64_t generation, unsigned cores,
                      std::size_t steps_max = SIZE_MAX);

struct persist_options {
    std::string dir;
    log_mode log = log_mode::everysec;
    std::uint32_t snapshot_every_s = 0;  // 0: no timer
    std::uint64_t snapshot_bytes_per_s = 0;  // the part writer's pace; 0: none
    std::uint64_t first_generation = 1;  // this run's logs; later than any file found
    // For tests: the Nth through Mth fsyncs of each core's log (counted from
    // 1) fail with EIO as if the disk had refused them; 0: none.
    std::uint64_t fail_log_fsync_from = 0;
    std::uint64_t fail_log_fsync_to = 0;
    // For tests: the directory fsync after the rename of this run's Nth
    // snapshot file (generation first_generation + N) fails with EIO; 0:
    // none.
    std::uint64_t fail_snapshot_directory_sync = 0;
};

class journal final : public store::change_log {
public:
    // Buffered log bytes a core may hold before writes are refused (507).
    static constexpr std::size_t log_buffer_bytes_max = 64u << 20;
    // A failed log write is tried again after this long.
    static constexpr std::uint64_t retry_ms = 1000;
    static constexpr std::uint64_t everysec_ms = 1000;
    // After a failed fsync, a snapshot that cannot be written is tried
    // again after this long.
    static constexpr std::uint64_t recovery_retry_ms = 1000;

    // keys, namespaces and next_namespace_number are this core's and
    // outlive the journal.
    // parts: the process's part writer (its thread writes this core's
    // snapshot parts).
    journal(const persist_options& options, io::loop& loop, store::shard& keys,
            const store::namespace_registry& namespaces, const std::uint32_t& next_namespace_number,
            part_writer& parts);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    // Opens this core's log of the first generation (not with --log off).
    // Start-up only, before the loop runs; returns the error or "".
    std::string open();

    static journal& local();
    static void set_local(journal* j);

    // store::change_log
    bool accepting() const override;
    ticket put(std::uint32_t namespace_number, std::string_view key, std::string_view value,
               std::string_view content_type, std::uint32_t updated_at_s, std::uint64_t expires_at_ms) override;
    ticket erase(std::uint32_t namespace_number, std::string_view key) override;
    ticket namespace_changed(const store::namespace_record& record) override;
    ticket clock_moved() override;
    bool wait(ticket t, waiter& w) override;
    bool acknowledged(ticket t) const;

    // --- snapshots (see snapshot.hh for the whole procedure) ---
    // On core 0 only: the generation of a new snapshot and the generation
    // of the newest logs (the new ones follow them), or nullopt while one is
    // being written.
    struct snapshot_claim {
        std::uint64_t generation = 0;
        std::uint64_t logs_follow = 0;
    };
    std::optional<snapshot_claim> claim_snapshot();
    // On core 0: the logs of `generation` exist (the next ones follow them).
    void logs_created(std::uint64_t generation) { _newest_logs = generation; }
    // ok: the snapshot is durable; ms and bytes: what it took (counted
    // for the metrics).
    void end_snapshot(bool ok, double ms, std::uint64_t bytes);

    // What core 0 hands the coordinator at its cut.
    struct cut_capture {
        std::vector<store::namespace_record> namespaces;  // not gone at the cut
        std::uint32_t next_namespace_number = 1;
        std::int64_t wall_offset_ms = 0;  // wall-clock ms = monotonic ms + this
        std::uint64_t clock_offset_ms = 0;  // the virtual clock's lead
    };
    // The cut on this core, whose part goes to `part_fd` (the part's
    // temporary file, made by the coordinator off the loop); "" or why it
    // failed (then nothing changed, and the caller still owns part_fd).
    std::string cut(std::uint64_t generation, int part_fd, cut_capture* capture);
    void release_hold();
    struct part_state {
        bool writing = false;
        bool done = false;
        std::string error;  // done with this error
        std::uint64_t bytes = 0;
        std::uint64_t records = 0;
    };
    part_state part() const { return _part_state; }
    void forget_part() { _part_state = {}; }
    // The snapshot's coordinator, waiting for this core's part: its
    // part_written() runs on this core once the part is written (at once
    // when it is already), so the coordinator is told once, never asks
    // again and again. One waiter at a time (one snapshot at a time).
    class part_waiter {
    public:
        virtual void part_written() = 0;

    protected:
        ~part_waiter() = default;
    };
    void when_part_written(part_waiter& waiter);
    // The process's part writer (it also removes what a snapshot replaced).
    part_writer& parts() { return _part_writer; }
    // Snapshot `generation` is durable: the state up to its cut no longer
    // depends on the logs before it (a log distrusted after a failed fsync
    // among them).
    void snapshot_durable(std::uint64_t generation);

    // Loop hooks, registered by start(): flushes once per iteration, the
    // everysec fsync and retries on the tick; on a clean stop, every batch
    // written (a refused one tried again at once) and fsync'd.
    void start();
    // Changes this core acknowledged that are durable neither in its log
    // nor in a durable snapshot: what stopping now loses. None under
    // --log always (a write is acknowledged once durable); under everysec,
    // what the disk refused or the last fsync has not covered; under off,
    // every change since the last snapshot's cut.
    std::uint64_t unsaved() const;

    struct counters {
        std::uint64_t records = 0;
        std::uint64_t log_bytes = 0;
        std::uint64_t fsyncs = 0;
        std::uint64_t write_errors = 0;
        std::uint64_t fsync_errors = 0;
        // How long this core's last snapshot cut held its loop freezing
        // its keys (collecting the item pointers), in ms.
        double last_freeze_ms = 0;
        // Snapshots, counted on core 0 (which hands out their generations).
        std::uint64_t snapshots = 0;
        std::uint64_t snapshot_failures = 0;
        double last_snapshot_ms = 0;
        std::uint64_t last_snapshot_bytes = 0;
    };
    const counters& stats() const { return _stats; }
    // What this core's shard keeps alive for the snapshot being written,
    // and what written ones kept and it has not retired yet.
    std::size_t snapshot_kept_bytes() const { return _keys.kept_bytes(); }

private:
    struct batch {
        int fd = -1;
        std::uint64_t generation = 0;  // of the log file fd is
        std::uint64_t offset = 0;   // where bytes[0] goes in the file
        std::vector<char> bytes;
        std::size_t written = 0;    // bytes already in the file
        ticket last = 0;            // newest record in it
        bool in_flight = false;     // being written: no more appends
        bool seal = false;          // fsync and close the file after it
    };

    std::vector<char>& open_batch();
    ticket appended(std::size_t bytes);
    ticket answer(ticket t) const;
    ticket unlogged();
    std::string rotate(std::uint64_t generation);
    std::string open_log(std::uint64_t generation);
    bool has_work() const;
    bool write_due() const;
    bool sync_wanted() const;
    void drop_covered();
    void kick();
    io::task<> flush_once();
    io::task<bool> write_out(batch& b);
    void batch_done();
    void fail(int error);
    io::task<int> sync_log(int fd);
    void distrust(int fd, std::uint64_t generation, int error);
    bool lost(ticket t) const { return t > _lost_after && t <= _lost_through; }
    io::task<> recover();
    void notify_waiters();
    void note_clock(std::vector<char>& out);
    std::int64_t wall_offset_ms() const;
    io::task<> write_part(std::uint64_t generation, int fd, std::string temporary, std::string final_path);

    const persist_options& _options;
    io::loop& _loop;
    store::shard& _keys;
    const store::namespace_registry& _namespaces;
    const std::uint32_t& _next_namespace_number;
    const unsigned _core;

    int _fd = -1;  // the current log file
    std::uint64_t _generation = 0;
    std::uint64_t _file_offset = 0;
    std::deque<batch> _batches;
    std::vector<std::vector<char>> _spare;  // emptied buffers for reuse (at most spare_max)
    std::size_t _pending_bytes = 0;

    ticket _appended = 0;  // newest ticket handed out
    ticket _durable = 0;   // newest ticket fsync'd
    ticket _written_unsynced = 0;  // newest ticket written since the last fsync (everysec)
    ticket _held_from = 0;  // tickets from here wait for release_hold(); 0: none held
    bool _past_last_cut = false;  // --log off, stopping, cut taken: changes are refused (507)
    waiter* _waiting_head = nullptr;
    waiter* _waiting_tail = nullptr;

    bool _flushing = false;
    bool _sync_due = false;
    std::uint64_t _last_sync_ms = 0;
    bool _failed = false;
    std::uint64_t _retry_at_ms = 0;
    // After a failed fsync (see the top): writes are refused until a
    // snapshot later than _distrusted_generation is durable.
    bool _distrusted = false;
    bool _fd_distrusted = false;  // _fd is the file whose fsync failed: never written again
    bool _recovering = false;     // recover() is running
    std::uint64_t _distrusted_generation = 0;
    // Tickets whose records were dropped with a distrusted log: never
    // acknowledged, whatever later fsyncs cover.
    ticket _lost_after = 0;
    ticket _lost_through = 0;

    bool _snapshot_claimed = false;  // core 0
    std::uint64_t _next_generation = 0;  // core 0
    std::uint64_t _newest_logs = 0;      // core 0: the generation of the newest logs made
    // The virtual clock's lead as this core's log last recorded it: a
    // clock record goes before the first record written after an advance.
    std::uint64_t _logged_clock_offset_ms = 0;
    // The last cut on this core: its generation and the newest ticket
    // before it; once that snapshot is durable, every change up to the
    // ticket is (_snapshot_covered), whatever became of its log records.
    std::uint64_t _cut_generation = 0;
    ticket _cut_ticket = 0;
    std::uint64_t _snapshot_generation = 0;
    ticket _snapshot_covered = 0;
    part_state _part_state;
    part_waiter* _part_waiter = nullptr;  // told once the part is written
    part_writer& _part_writer;
    store::shard::frozen_items _frozen;  // kept between snapshots (shard.hh)
    std::uint64_t _cut_ms = 0;
    std::int64_t _cut_wall_offset_ms = 0;

    counters _stats;
};

}  // namespace ringkv::persist
