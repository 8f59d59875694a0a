#pragma once
// The snapshot's part writer: one thread per process (with --data-dir
// only) that encodes each core's frozen items and writes its part file, so
// that none of that work runs on the loops that serve requests.
//
// Priority. The thread runs under SCHED_IDLE: the kernel gives it a CPU
// only when no other thread wants one and preempts it as soon as a loop
// (or a client on the same machine) wakes, so a request never waits for
// it. The kernel's side of the writes runs in its context too, at the same
// priority: pwrite copies into the page cache, and
// sync_file_range(SYNC_FILE_RANGE_WRITE) after each buffer starts its
// writeback here rather than leaving it to the kernel's flusher threads.
// On a CPU that is never idle it would get (almost) nothing, so it moves
// to normal priority (SCHED_OTHER):
//  - for good once the server is stopping (hurry(): the snapshot taken at
//    SIGTERM must end);
//  - when a part has waited starved_ms_max since its cut
//    (check_starved()), until that part is written.
// Leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE of 20; without
// either, the thread runs at normal priority throughout (said on stderr).
//
// Hand-off. One job slot per core: one snapshot at a time and one part
// per core in it, so at most `cores` jobs, the bound. The owner core fills
// its slot and publishes it (release); the thread sleeps on a futex word
// (std::atomic wait) that each post bumps. When the part is written (or
// has failed) the thread stores the result, publishes the slot as done and
// writes the core's eventfd, which the waiting coroutine reads through its
// loop's io_uring: a loop neither blocks nor takes a lock for any of it.
//
// Reading items on another thread: an item is immutable once published
// (store/item.hh), and the frozen ones stay alive until the owner thaws
// its shard, which it does only after the job is done. The thread reads
// only what is written before publication (the header, key, value,
// Content-Type and the TTL's at_ms), never the links the owner rewrites
// meanwhile (the index's left/right, the timer wheel's next/previous/list).
//
// Removal. The same thread removes the files of the generations a durable
// snapshot replaced (remove_before()), so that neither the directory read
// nor the unlinks run on a loop. Parts come first: the thread looks for a
// posted part between two steps of a removal (a step is one ftruncate and
// fdatasync, or one unlink), so a removal holds a part up by one step at
// most. While a part is written the removal goes on in the pace's waits,
// a step only where the last one's time fits before the next buffer is
// due, so that a paced part is not put behind its pace by more than one
// step's misjudged time (unpaced, a step before each buffer), and
// snapshots back to back still leave the removal time.
//
// Memory: one buffer of about buffer_bytes (plus one record) while a part
// is written; the names of the files being removed (those of a few
// generations: a few per core each).

#include <ringkv/io/task.hh>
#include <ringkv/persist/write_pace.hh>
#include <ringkv/store/item.hh>

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace ringkv::persist {

class part_writer {
public:
    static constexpr std::size_t buffer_bytes = 1u << 20;
    static constexpr std::size_t prefetch_distance = 16;
    // A part the thread is this far behind with gets normal priority:
    // behind its cut unpaced, behind its pace when paced.
    static constexpr std::uint64_t starved_ms_max = 10'000;
    // The longest sleep of a paced thread before it looks at hurry() again
    // (and, removing, for a posted part).
    static constexpr std::uint64_t pace_nap_ns_max = 20'000'000;
    // The removal's steps and pace. On ext4 mounted with `discard` the
    // blocks a file frees are discarded when the journal commits the change
    // that freed them: unlinking a snapshot's two 86 MB parts at once had
    // the disk discard 172 MB in one go, and on a virtual machine whose
    // host charges its disk's work to the machine's CPU quota that was seen
    // as a 14-15 ms pause of the whole machine. So a file longer than a
    // step is shrunk a step at a time (ftruncate, then fdatasync, which
    // commits the journal: that step's discard goes out then) and unlinked
    // once a step or less is left. 8 MiB: each commit costs the disk a
    // write of its own, so steps much smaller would trade discards for
    // commits (8 a second at the pace below). The pace is that of the
    // writes times removal_pace_factor (64 MB/s at the default 16): a
    // discard moves no data, so it asks less of the disk than writing the
    // same bytes, and a 172 MB snapshot is removed in about 3 s rather than
    // the 11 s its writing takes. Unpaced (pace 0), and from hurry() on,
    // each file is unlinked whole at once.
    static constexpr std::uint64_t removal_step_bytes = 8u << 20;
    static constexpr std::uint64_t removal_pace_factor = 4;

    // Starts the thread (with every signal blocked: the loops take them).
    // bytes_per_s: the pace (0: none). directory: --data-dir, whose older
    // generations remove_before() removes ("" for a writer that is never
    // asked to).
    explicit part_writer(unsigned cores, std::uint64_t bytes_per_s = 0, std::string directory = {});
    // Stops and joins the thread; no part may be in flight (the loops,
    // which wait for theirs, have ended). A removal under way is finished
    // first, unpaced.
    ~part_writer();
    part_writer(const part_writer&) = delete;
    part_writer& operator=(const part_writer&) = delete;

    struct cut_view {
        std::span<const store::item* const> items;  // frozen: alive until the part is written
        std::uint64_t cut_ms = 0;                    // items expired at the cut are left out
        std::int64_t wall_offset_ms = 0;             // a TTL's wall-clock ms = monotonic ms + this
    };
    struct part_job {
        int fd = -1;               // the part's temporary file; closed by the writer
        std::vector<char> start;   // the file header
        cut_view cut;
        std::string temporary;     // fd's name, removed if the part fails
        std::string final_path;    // renamed to, once fdatasync'd
    };
    struct written {
        int error = 0;  // 0 or -errno
        std::uint64_t bytes = 0;
        std::uint64_t records = 0;  // put records
    };
    // On core `core`'s loop: writes `job.start`, the items as put records
    // and the end record from offset 0, fdatasyncs, closes and renames the
    // file (or removes it on failure); resumes on that loop when done. One
    // part at a time per core.
    io::task<written> write(unsigned core, part_job job);

    // Any loop, without waiting: snapshot `generation` is durable, so the
    // files of every generation before it go (only names ringkv writes,
    // parse_file_name; whatever else is in the directory stays). The
    // thread reads the directory when it takes the removal up; asked again
    // meanwhile, it goes on to the newest generation asked. A stop or a
    // crash in the middle leaves files of older generations, some shrunk:
    // a start ignores them (it loads the newest snapshot and the logs from
    // its generation on) and the next snapshot removes them.
    void remove_before(std::uint64_t generation);
    // The generation the last finished removal reached: every file of ours
    // before it is gone (for tests).
    std::uint64_t removed_before() const { return _removed_before.load(std::memory_order_acquire); }

    // Any loop, any number of times: the server is stopping; the thread
    // runs at normal priority from now on, unpaced.
    void hurry();
    // On core `core`'s tick: a part of it waiting, and the thread
    // starved_ms_max behind (the later of the part's cut and where the
    // pace puts the buffer the thread is on), gets the thread normal
    // priority until that part is written. A thread keeping its pace is
    // not behind; one writing slower than its pace falls behind.
    void check_starved(unsigned core, std::uint64_t now_ms);
    // Whether the thread can leave SCHED_IDLE (else it never enters it).
    bool idle_priority() const { return _idle_priority.load(std::memory_order_acquire); }
    // Parts the thread fell starved_ms_max behind with (check_starved()
    // moved it to normal priority for them).
    std::uint64_t starved_count() const { return _starved.load(std::memory_order_relaxed); }
    // The thread's id (for tests: its scheduling policy).
    pid_t thread_id() const { return _tid.load(std::memory_order_relaxed); }

private:
    enum class slot_state : std::uint32_t { free, posted, done };
    struct slot {
        part_job job;         // the owner's until posted, then the thread's until done
        written result;       // the thread's, then the owner's once done
        std::uint64_t posted_ms = 0;  // the owner's (real monotonic ms)
        std::atomic<bool> starved{false};  // set by the owner (counted in _starved), read by the thread
        std::atomic<slot_state> state{slot_state::free};
        int wake_fd = -1;     // eventfd the thread writes once the slot is done
    };

    void run();
    slot* next_posted();
    written write_part(part_job& job);
    void settle_priority(const slot* part);
    void keep_pace(std::size_t bytes);
    bool removal_pending() const;
    bool removal_paced() const;
    void remove_some(std::uint64_t nap_ns_max);
    void take_up_removal();
    void finish_doomed_file();

    std::unique_ptr<slot[]> _slots;
    const unsigned _cores;
    // Bumped by every post and by the destructor; the thread waits on it.
    std::atomic<std::uint32_t> _posts{0};
    std::atomic<bool> _stopping{false};   // the destructor: the thread ends
    std::atomic<bool> _hurried{false};    // the server is stopping: normal priority for good
    std::atomic<bool> _idle_priority{false};
    std::atomic<pid_t> _tid{0};
    std::atomic<std::uint64_t> _starved{0};
    write_pace _pace;  // the thread's
    // The part the thread is on, for the schedule below (the thread's).
    std::uint64_t _part_taken_ms = 0;
    std::uint64_t _part_bytes = 0;  // handed to the pace so far
    // Real monotonic ms the thread is due at, for check_starved(): unpaced,
    // its part's cut; paced, where the pace from when it took its part up
    // puts the buffer it is on. Unlike the pace's own wait, this schedule
    // forgives no lateness: a thread that writes slower than its pace falls
    // behind it.
    std::atomic<std::uint64_t> _due_ms{0};

    // The removal: the newest generation asked (loops write it, it only
    // grows), and the thread's work on it.
    const std::string _directory;
    std::atomic<std::uint64_t> _removal_wanted{0};
    std::atomic<std::uint64_t> _removed_before{0};
    struct removal {
        std::uint64_t generation = 0;     // the files before it go
        std::vector<std::string> doomed;  // their paths, as the directory listed them
        std::size_t next = 0;             // doomed[next] is the one being removed
        bool measured = false;            // doomed[next] opened and its size read
        int fd = -1;                      // doomed[next], while it is shrunk in steps
        std::uint64_t bytes = 0;          // its size left
        bool step_planned = false;        // step_due_ns counts its next step
        std::uint64_t step_due_ns = 0;
        std::uint64_t last_step_ns = 0;   // how long the last step took
    };
    removal _removal;           // the thread's
    write_pace _removal_pace;   // the thread's
    bool _settled_since_part = true;  // the thread's: settle_priority() ran after the last part

    std::thread _thread;
};

}  // namespace ringkv::persist
