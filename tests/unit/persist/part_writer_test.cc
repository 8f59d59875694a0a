// The part writer's hand-off (include/ringkv/persist/part_writer.hh): two
// loops each hand the thread a part at the same moment and must be resumed
// on their own loop with their own result; the file holds exactly the
// items not expired at the cut, in order, then the end record; a part
// that cannot be written reports the error and leaves no file; and the
// thread's priority follows the rules (idle, normal once stopping); a
// paced thread keeps its pace, is not starved while it does, and drops the
// pace once the server stops. The removal of older generations: only
// ringkv's names of older generations go; paced, a large file shrinks a
// step at a time, a part posted meanwhile is written first, and the stop
// (hurry(), the destructor) ends the pace.

#include <ringkv/io/cluster.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/io/task.hh>
#include <ringkv/persist/format.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/persist/part_writer.hh>
#include <ringkv/store/item.hh>

#include "persist/file_ops.hh"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ringkv::persist {
namespace {

constexpr unsigned cores = 2;
constexpr std::uint64_t cut_ms = 1'000'000;
constexpr std::int64_t wall_offset_ms = 5'000;

std::string temp_directory() {
    char pattern[] = "/tmp/ringkv-part-writer-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    return made == nullptr ? std::string() : std::string(made);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

// Items of one core: every third one with a TTL, half of those expired at
// the cut; values long enough that a part spans several buffers.
struct core_items {
    std::vector<store::item*> owned;
    std::vector<const store::item*> frozen;
    std::vector<std::string> live_keys;  // what the part must hold, in order

    core_items(unsigned core, std::size_t count) {
        const std::string value(600, char('a' + core));
        for (std::size_t n = 0; n < count; ++n) {
            const std::string key = "c" + std::to_string(core) + "-" + std::to_string(n);
            const bool ttl = n % 3 == 0;
            store::item* i = store::item::create(7, key, value, n % 2 == 0 ? "text/plain" : "application/x-odd", 0,
                                                 1234, ttl);
            if (ttl) i->ttl().at_ms = n % 2 == 0 ? cut_ms : cut_ms + 60'000;  // at the cut: expired
            owned.push_back(i);
            frozen.push_back(i);
            if (!i->expired(cut_ms)) live_keys.push_back(key);
        }
    }
    ~core_items() {
        for (store::item* i : owned) i->release();
    }
    core_items(const core_items&) = delete;
    core_items& operator=(const core_items&) = delete;
};
using items_of_cores = std::vector<std::unique_ptr<core_items>>;

items_of_cores make_items(std::size_t first_count, std::size_t more_per_core) {
    items_of_cores items;
    for (unsigned core = 0; core < cores; ++core) {
        items.push_back(std::make_unique<core_items>(core, first_count + more_per_core * core));
    }
    return items;
}

struct outcome {
    std::atomic<bool> resumed_on_own_loop{false};
    part_writer::written result;
};

io::task<> write_one(part_writer& writer, part_writer::part_job job, outcome& out) {
    io::loop& home = io::loop::current();
    home.hold();
    out.result = co_await writer.write(home.core(), std::move(job));
    out.resumed_on_own_loop = &io::loop::current() == &home;
    home.release();
    home.stop_all();
}

part_writer::part_job job_for(unsigned core, int fd, const std::string& dir, const core_items& items) {
    part_writer::part_job job;
    job.fd = fd;
    append_header({file_kind::snapshot_part, format_version, core, 9}, job.start);
    job.cut = {items.frozen, cut_ms, wall_offset_ms};
    job.temporary = dir + "/part-" + std::to_string(core) + ".tmp";
    job.final_path = dir + "/part-" + std::to_string(core);
    return job;
}

// One job per core, each with its temporary part file made in `dir`; the
// file of `read_only_core` (if any) is open for reading only, so every
// write to it fails (EBADF).
std::vector<part_writer::part_job> jobs_for(const std::string& dir, const items_of_cores& items,
                                            unsigned read_only_core = cores) {
    std::vector<part_writer::part_job> jobs;
    for (unsigned core = 0; core < cores; ++core) {
        const std::string temporary = dir + "/part-" + std::to_string(core) + ".tmp";
        const int flags = core == read_only_core ? O_RDONLY : O_WRONLY;
        const int fd = ::open(temporary.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        EXPECT_GE(fd, 0) << temporary;
        jobs.push_back(job_for(core, fd, dir, *items[core]));
    }
    return jobs;
}

// Runs one loop per core, each handing `jobs[core]` to the writer at once;
// `also` (if given) is spawned on core 0's loop beside its part.
using part_task = io::task<> (*)(part_writer&, part_writer::part_job, outcome&);
void run_cores(part_writer& writer, std::vector<part_writer::part_job>& jobs, std::vector<outcome>& outcomes,
               std::function<io::task<>()> also = {}, part_task write = write_one) {
    io::cluster peers(cores);
    std::vector<std::thread> threads;
    for (unsigned core = 0; core < cores; ++core) {
        threads.emplace_back([&, core] {
            io::loop_options options;
            options.core = core;
            io::loop l(peers, options);
            peers.wait_until_all_rings_ready();
            l.run([&] {
                io::spawn(write(writer, std::move(jobs[core]), outcomes[core]));
                if (core == 0 && also) io::spawn(also());
            });
        });
    }
    for (std::thread& t : threads) t.join();
}

TEST(part_writer, two_cores_at_once_each_get_their_own_part_back_on_their_own_loop) {
    const std::string dir = temp_directory();
    part_writer writer(cores);
    const items_of_cores items = make_items(4000, 1000);  // each part > 2 buffers
    std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
    std::vector<outcome> outcomes(cores);
    run_cores(writer, jobs, outcomes);
    for (unsigned core = 0; core < cores; ++core) {
        SCOPED_TRACE("core " + std::to_string(core));
        EXPECT_TRUE(outcomes[core].resumed_on_own_loop);
        const part_writer::written& done = outcomes[core].result;
        EXPECT_EQ(done.error, 0);
        EXPECT_EQ(done.records, items[core]->live_keys.size());
        const std::string path = dir + "/part-" + std::to_string(core);
        EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // renamed
        const std::string bytes = read_file(path);
        EXPECT_EQ(bytes.size(), done.bytes);
        const header_result header = read_header(bytes);
        ASSERT_TRUE(header.header) << header.error;
        EXPECT_EQ(header.header->core, core);
        record_reader reader(bytes);
        std::size_t n = 0;
        bool ended = false;
        while (reader.next() == record_reader::status::record) {
            if (reader.current().type == record_type::end) {
                const std::optional<end_record> end = decode_end(reader.current().body);
                ASSERT_TRUE(end);
                EXPECT_EQ(end->records, items[core]->live_keys.size());
                ended = true;
                continue;
            }
            const std::optional<put_record> put = decode_put(reader.current().body);
            ASSERT_TRUE(put);
            ASSERT_LT(n, items[core]->live_keys.size());
            EXPECT_EQ(put->key, items[core]->live_keys[n]);
            EXPECT_EQ(put->namespace_number, 7u);
            EXPECT_EQ(put->updated_at_s, 1234u);
            EXPECT_EQ(put->value, std::string(600, char('a' + core)));
            const std::size_t index = std::stoul(std::string(put->key.substr(put->key.find('-') + 1)));
            EXPECT_EQ(put->content_type, index % 2 == 0 ? "text/plain" : "application/x-odd");
            EXPECT_EQ(put->expires_at_wall_ms, index % 3 == 0 ? std::uint64_t(cut_ms + 60'000 + wall_offset_ms) : 0u);
            ++n;
        }
        EXPECT_TRUE(ended);
        EXPECT_EQ(n, items[core]->live_keys.size());
        ::unlink(path.c_str());
    }
    ::rmdir(dir.c_str());
}

TEST(part_writer, a_part_the_disk_refuses_reports_the_error_and_leaves_no_file) {
    const std::string dir = temp_directory();
    part_writer writer(cores);
    const items_of_cores items = make_items(100, 0);
    std::vector<part_writer::part_job> jobs = jobs_for(dir, items, 1);  // core 1's writes fail
    std::vector<outcome> outcomes(cores);
    run_cores(writer, jobs, outcomes);
    EXPECT_EQ(outcomes[0].result.error, 0);
    EXPECT_EQ(outcomes[1].result.error, -EBADF);
    EXPECT_EQ(::access((dir + "/part-0").c_str(), F_OK), 0);
    EXPECT_NE(::access((dir + "/part-1").c_str(), F_OK), 0);
    EXPECT_NE(::access((dir + "/part-1.tmp").c_str(), F_OK), 0);
    ::unlink((dir + "/part-0").c_str());
    ::rmdir(dir.c_str());
}

TEST(part_writer, the_thread_idles_until_the_server_stops_then_runs_at_normal_priority_for_good) {
    part_writer writer(cores);
    // Without CAP_SYS_NICE or RLIMIT_NICE 20 it is never idle (the test
    // below takes that case on purpose).
    EXPECT_EQ(::sched_getscheduler(writer.thread_id()), writer.idle_priority() ? SCHED_IDLE : SCHED_OTHER);
    writer.hurry();
    EXPECT_EQ(::sched_getscheduler(writer.thread_id()), SCHED_OTHER);
    // A part written after the stop began leaves it at normal priority.
    const std::string dir = temp_directory();
    const items_of_cores items = make_items(10, 0);
    std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
    std::vector<outcome> outcomes(cores);
    run_cores(writer, jobs, outcomes);
    EXPECT_EQ(::sched_getscheduler(writer.thread_id()), SCHED_OTHER);
    for (unsigned core = 0; core < cores; ++core) ::unlink((dir + "/part-" + std::to_string(core)).c_str());
    ::rmdir(dir.c_str());
}

std::uint64_t bytes_of(const std::vector<outcome>& outcomes) {
    std::uint64_t bytes = 0;
    for (const outcome& o : outcomes) {
        EXPECT_EQ(o.result.error, 0);
        bytes += o.result.bytes;
    }
    return bytes;
}

void remove_parts(const std::string& dir) {
    for (unsigned core = 0; core < cores; ++core) ::unlink((dir + "/part-" + std::to_string(core)).c_str());
    ::rmdir(dir.c_str());
}

TEST(part_writer, a_paced_thread_takes_at_least_its_bytes_over_the_pace) {
    constexpr std::uint64_t bytes_per_s = 2'000'000;
    part_writer writer(cores, bytes_per_s);
    const std::string dir = temp_directory();
    const items_of_cores items = make_items(4000, 1000);  // about 6 MB in all
    std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
    std::vector<outcome> outcomes(cores);
    const std::uint64_t start_ns = base::monotonic_ns();
    run_cores(writer, jobs, outcomes);
    const double took_s = double(base::monotonic_ns() - start_ns) / 1e9;
    // The last buffer may start once the bytes before it are due.
    const std::uint64_t before_last = bytes_of(outcomes) - part_writer::buffer_bytes - record_header_bytes -
                                      record_body_bytes_max;
    EXPECT_GE(took_s, double(before_last) / double(bytes_per_s));
    EXPECT_EQ(writer.starved_count(), 0u);
    remove_parts(dir);
}

// Core 0's part, a second into its pace: the cut was long ago by then but
// the thread keeps its pace, so it is not starved until it falls
// starved_ms_max behind that pace; the stop then ends the pace.
TEST(part_writer, a_thread_keeping_its_pace_is_not_starved_and_the_stop_ends_the_pace) {
    constexpr std::uint64_t bytes_per_s = 500'000;  // about 10 s for the parts below
    part_writer writer(cores, bytes_per_s);
    const std::string dir = temp_directory();
    const items_of_cores items = make_items(4000, 1000);
    std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
    std::vector<outcome> outcomes(cores);
    std::uint64_t starved_on_pace = 0, starved_behind = 0;
    const auto look_a_second_later = [&]() -> io::task<> {
        __kernel_timespec second{1, 0};
        co_await sleep_for(&second);
        const std::uint64_t now_ms = base::monotonic_ms();
        writer.check_starved(0, now_ms + part_writer::starved_ms_max - 500);  // 10.5 s after the cut
        starved_on_pace = writer.starved_count();
        writer.check_starved(0, now_ms + part_writer::starved_ms_max + 5'000);  // far behind the pace
        starved_behind = writer.starved_count();
        writer.hurry();
    };
    const std::uint64_t start_ns = base::monotonic_ns();
    run_cores(writer, jobs, outcomes, look_a_second_later);
    const double took_s = double(base::monotonic_ns() - start_ns) / 1e9;
    EXPECT_EQ(starved_on_pace, 0u);
    EXPECT_EQ(starved_behind, 1u);
    bytes_of(outcomes);
    EXPECT_LT(took_s, 6.0);  // paced to the end it would take about 10 s
    remove_parts(dir);
}

// Dropping CAP_SYS_NICE (and RLIMIT_NICE) in a child of its own: anyone
// may enter SCHED_IDLE but only those may leave it, so a writer that
// entered it there would stay idle for good and a stopping server's
// snapshot could starve for ever. It must not enter it at all.
int writer_policy_without_cap_sys_nice() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0) return 2;
    data[CAP_TO_INDEX(CAP_SYS_NICE)].effective &= ~CAP_TO_MASK(CAP_SYS_NICE);
    data[CAP_TO_INDEX(CAP_SYS_NICE)].permitted &= ~CAP_TO_MASK(CAP_SYS_NICE);
    if (::syscall(SYS_capset, &header, data) != 0) return 3;
    const rlimit none{0, 0};
    if (::setrlimit(RLIMIT_NICE, &none) != 0) return 4;
    part_writer writer(1);
    if (writer.idle_priority()) return 5;
    if (::sched_getscheduler(writer.thread_id()) != SCHED_OTHER) return 6;
    writer.hurry();
    return ::sched_getscheduler(writer.thread_id()) == SCHED_OTHER ? 0 : 7;
}

TEST(part_writer, without_the_right_to_leave_idle_priority_the_thread_never_enters_it) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(std::exit(writer_policy_without_cap_sys_nice()), ::testing::ExitedWithCode(0), "");
}

// --- removal of older generations ---

// Waits up to 10 s for `done()`.
bool eventually(const std::function<bool()>& done) {
    for (int tries = 0; tries < 1000; ++tries) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Its size, or -1 once it is gone.
long long size_of(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 ? info.st_size : -1;
}

// A file of `bytes` (sparse: its size is what the removal reads).
void make_file(const std::string& path, std::uint64_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::ftruncate(fd, off_t(bytes)), 0);
    ::close(fd);
}

void remove_directory(const std::string& dir) { std::filesystem::remove_all(dir); }

TEST(part_writer, a_removal_takes_every_older_generation_of_ringkvs_names_and_nothing_else) {
    const std::string dir = temp_directory();
    const std::vector<std::string> doomed = {snapshot_name(1), part_name(1, 0), part_name(1, 1), log_name(1, 0),
                                             part_name(2, 0) + ".tmp", log_name(3, 1)};
    const std::vector<std::string> kept = {snapshot_name(4), part_name(4, 0), log_name(4, 0), log_name(5, 0),
                                           "snapshot-1.bak", "log-0000000000000001-000.rkv.orig", "notes.txt"};
    for (const std::string& name : doomed) make_file(dir + "/" + name, 100);
    for (const std::string& name : kept) make_file(dir + "/" + name, 100);
    {
        part_writer writer(cores, 1'000'000, dir);  // paced: small files take no time
        writer.remove_before(4);
        writer.remove_before(2);  // an older one asked later changes nothing
        ASSERT_TRUE(eventually([&] { return writer.removed_before() == 4; }));
    }
    for (const std::string& name : doomed) EXPECT_FALSE(exists(dir + "/" + name)) << name;
    for (const std::string& name : kept) EXPECT_TRUE(exists(dir + "/" + name)) << name;
    remove_directory(dir);
}

constexpr std::uint64_t step_bytes = part_writer::removal_step_bytes;

// An older part of three steps, its removal under way at 2 MB/s (four
// times a write pace of 500 KB/s: one 8 MiB step every 4.2 s), its first
// step taken at once and the next 4.2 s away. Paced to the end it would
// take 8.4 s.
struct removal_under_way {
    const std::string dir = temp_directory();
    const std::string old_part = dir + "/" + part_name(1, 0);
    const std::uint64_t start_ns = base::monotonic_ns();
    std::unique_ptr<part_writer> writer;
    bool stepped = false;  // the first step was taken

    removal_under_way() {
        make_file(old_part, 3 * step_bytes);
        writer = std::make_unique<part_writer>(cores, 500'000, dir);
        writer->remove_before(2);
        stepped = eventually([&] { return size_of(old_part) != (long long)(3 * step_bytes); });
    }
    ~removal_under_way() {
        writer.reset();
        remove_directory(dir);
    }
    removal_under_way(const removal_under_way&) = delete;
    removal_under_way& operator=(const removal_under_way&) = delete;
    double seconds() const { return double(base::monotonic_ns() - start_ns) / 1e9; }
};

// The stop ends the pace, and the rest goes at once.
TEST(part_writer, a_paced_removal_shrinks_a_large_file_a_step_at_a_time_until_the_stop_ends_the_pace) {
    removal_under_way removal;
    ASSERT_TRUE(removal.stepped);
    EXPECT_EQ(size_of(removal.old_part), (long long)(2 * step_bytes));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(size_of(removal.old_part), (long long)(2 * step_bytes));  // the next step is not due
    removal.writer->hurry();
    ASSERT_TRUE(eventually([&] { return !exists(removal.old_part); }));
    EXPECT_EQ(removal.writer->removed_before(), 2u);
    EXPECT_LT(removal.seconds(), 4.0);
}

// A removal never holds a part up: the parts posted while it waits for its
// pace are written (and counted as no starved part) while the old file is
// still there, half removed.
TEST(part_writer, parts_posted_during_a_paced_removal_are_written_first) {
    removal_under_way removal;
    ASSERT_TRUE(removal.stepped);
    const items_of_cores items = make_items(10, 0);
    std::vector<part_writer::part_job> jobs = jobs_for(removal.dir, items);
    std::vector<outcome> outcomes(cores);
    run_cores(*removal.writer, jobs, outcomes);
    bytes_of(outcomes);
    EXPECT_EQ(size_of(removal.old_part), (long long)(2 * step_bytes));
    EXPECT_EQ(removal.writer->starved_count(), 0u);
    for (unsigned core = 0; core < cores; ++core) EXPECT_TRUE(exists(removal.dir + "/part-" + std::to_string(core)));
}

// Snapshots back to back: a paced part holds the thread for its whole
// snapshot, and the removal goes on in the pace's waits. An older part of
// two steps is removed at 16 MB/s (four times a 4 MB/s pace: about 1 s)
// while parts of about 4.3 MB per core take some 2 s; it is gone when they
// are written. (Before, the removal waited for the parts to end.)
TEST(part_writer, a_removal_goes_on_while_paced_parts_are_written) {
    const std::string dir = temp_directory();
    const std::string old_part = dir + "/" + part_name(1, 0);
    make_file(old_part, 2 * step_bytes);
    const items_of_cores items = make_items(8'000, 0);
    {
        part_writer writer(cores, 4'000'000, dir);
        writer.remove_before(2);
        std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
        std::vector<outcome> outcomes(cores);
        run_cores(writer, jobs, outcomes);
        EXPECT_GT(bytes_of(outcomes), 7'000'000u);
        EXPECT_FALSE(exists(old_part));
        EXPECT_EQ(writer.removed_before(), 2u);
        EXPECT_EQ(writer.starved_count(), 0u);
    }
    remove_directory(dir);
}

// Unpaced, the removal takes a step before each buffer of a part: asked
// for just after core 0 posted its part, it is over when the first part
// is written. (Before, parts came first, and both went before it.)
std::atomic<bool> old_files_seen_at_first_part{true};
std::atomic<bool> first_part_seen{false};
std::string unpaced_removal_directory;
io::task<> write_one_then_look(part_writer& writer, part_writer::part_job job, outcome& out) {
    co_await write_one(writer, std::move(job), out);
    if (!first_part_seen.exchange(true)) {
        const std::string& dir = unpaced_removal_directory;
        old_files_seen_at_first_part = exists(dir + "/" + part_name(1, 0)) || exists(dir + "/" + part_name(1, 1));
    }
}

io::task<> ask_removal(part_writer& writer) {
    writer.remove_before(2);
    co_return;
}

TEST(part_writer, unpaced_a_removal_goes_on_between_the_buffers_of_a_part) {
    const std::string dir = temp_directory();
    unpaced_removal_directory = dir;
    make_file(dir + "/" + part_name(1, 0), 100);
    make_file(dir + "/" + part_name(1, 1), 100);
    const items_of_cores items = make_items(20'000, 0);  // about 12 buffers per core
    {
        part_writer writer(cores, 0, dir);
        std::vector<part_writer::part_job> jobs = jobs_for(dir, items);
        std::vector<outcome> outcomes(cores);
        // Asked for on core 0 just after its part is posted.
        run_cores(writer, jobs, outcomes, [&writer] { return ask_removal(writer); }, write_one_then_look);
        EXPECT_GT(bytes_of(outcomes), 10'000'000u);
        EXPECT_TRUE(first_part_seen.load());
        EXPECT_FALSE(old_files_seen_at_first_part.load());
    }
    remove_directory(dir);
}

// The destructor (the loops have ended) finishes a removal under way,
// unpaced: a clean stop leaves no older generation behind, and waits for
// no pace.
TEST(part_writer, the_destructor_finishes_a_removal_at_once) {
    removal_under_way removal;
    ASSERT_TRUE(removal.stepped);
    removal.writer.reset();
    EXPECT_FALSE(exists(removal.old_part));
    EXPECT_LT(removal.seconds(), 4.0);
}

}  // namespace
}  // namespace ringkv::persist
