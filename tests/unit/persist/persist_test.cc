// The file formats and the loader, on files written by hand in a temporary
// directory: round trips, every truncation point, a flipped byte anywhere,
// a newer version, and what apply() restores (times, TTLs, namespaces).
#include <ringkv/persist/format.hh>
#include <ringkv/persist/journal.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/store/sharding.hh>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ringkv::persist {
namespace {

std::string_view view(const std::vector<char>& bytes) { return {bytes.data(), bytes.size()}; }

put_record sample_put(std::uint32_t ns, std::string_view key, std::string_view value, std::uint64_t expires = 0) {
    put_record r;
    r.namespace_number = ns;
    r.updated_at_s = 1700000000;
    r.expires_at_wall_ms = expires;
    r.key = key;
    r.content_type = "text/plain";
    r.value = value;
    return r;
}

namespace_state_record sample_namespace(std::uint32_t number, bool deleting = false) {
    namespace_state_record n;
    n.id = {0x1234, number};
    n.number = number;
    n.name = "ns-name";
    n.organization = "token-a";
    n.created_at_s = 1700000001;
    n.provisioned_at_s = 1700000002;
    n.provisioned_at_wall_ms = 1700000002000;
    n.deleting = deleting;
    n.delete_requested_at_s = deleting ? 1700000003 : 0;
    n.deleted_at_wall_ms = deleting ? 4000000000000 : 0;  // far in the future: still deleting
    return n;
}

std::vector<char> sample_log(std::uint64_t generation = 1) {
    std::vector<char> out;
    append_header({file_kind::log, format_version, 0, generation}, out);
    append(sample_namespace(1), out);
    append(sample_put(1, "a", "alpha"), out);
    append(sample_put(1, "b", "beta"), out);
    append(erase_record{1, "a"}, out);
    return out;
}

TEST(PersistFormat, RecordsRoundTrip) {
    const std::vector<char> log = sample_log();
    const header_result h = read_header(view(log));
    ASSERT_TRUE(h.header) << h.error;
    EXPECT_EQ(h.header->kind, file_kind::log);
    EXPECT_EQ(h.header->generation, 1u);
    record_reader reader(view(log));
    ASSERT_EQ(reader.next(), record_reader::status::record);
    const auto n = decode_namespace_state(reader.current().body);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->name, "ns-name");
    EXPECT_EQ(n->organization, "token-a");
    EXPECT_EQ(n->provisioned_at_wall_ms, 1700000002000u);
    ASSERT_EQ(reader.next(), record_reader::status::record);
    const auto put = decode_put(reader.current().body);
    ASSERT_TRUE(put);
    EXPECT_EQ(put->key, "a");
    EXPECT_EQ(put->value, "alpha");
    EXPECT_EQ(put->content_type, "text/plain");
    EXPECT_EQ(put->updated_at_s, 1700000000u);
    ASSERT_EQ(reader.next(), record_reader::status::record);
    ASSERT_EQ(reader.next(), record_reader::status::record);
    const auto erase = decode_erase(reader.current().body);
    ASSERT_TRUE(erase);
    EXPECT_EQ(erase->key, "a");
    EXPECT_EQ(reader.next(), record_reader::status::end);
    EXPECT_EQ(check_file(view(log)), "");
}

TEST(PersistFormat, EveryTruncationIsATornTail) {
    const std::vector<char> log = sample_log();
    for (std::size_t size = file_header_bytes; size < log.size(); ++size) {
        record_reader reader({log.data(), size});
        record_reader::status s;
        while ((s = reader.next()) == record_reader::status::record) {
        }
        // Cut exactly between records: a clean end; anywhere else: torn.
        EXPECT_NE(s, record_reader::status::damaged) << "cut at " << size;
    }
}

TEST(PersistFormat, AFlippedByteBeforeTheLastRecordIsDamage) {
    const std::vector<char> clean = sample_log();
    // The offset where the last record starts.
    record_reader walk(view(clean));
    std::uint64_t last = 0;
    while (walk.next() == record_reader::status::record) last = walk.offset();
    for (std::size_t at = file_header_bytes; at < last; ++at) {
        std::vector<char> log = clean;
        log[at] ^= 0x10;
        record_reader reader(view(log));
        record_reader::status s;
        while ((s = reader.next()) == record_reader::status::record) {
        }
        EXPECT_EQ(s, record_reader::status::damaged) << "flip at " << at;
        EXPECT_LE(reader.offset(), at);
    }
}

TEST(PersistFormat, HeaderDamageAndNewerVersionsAreRefused) {
    std::vector<char> log = sample_log();
    for (std::size_t at = 0; at < file_header_bytes; ++at) {
        std::vector<char> bad = log;
        bad[at] ^= 1;
        EXPECT_FALSE(read_header(view(bad)).header) << at;
    }
    std::vector<char> newer;
    append_header({file_kind::log, format_version + 1, 0, 1}, newer);
    const header_result h = read_header(view(newer));
    ASSERT_FALSE(h.header);
    EXPECT_NE(h.error.find("newer"), std::string::npos) << h.error;
}

TEST(PersistFormat, ImpossibleLengthsAreDamageNotAllocations) {
    std::vector<char> log;
    append_header({file_kind::log, format_version, 0, 1}, log);
    const std::size_t at = log.size();
    append(sample_put(1, "k", "v"), log);
    append(sample_put(1, "k2", "v"), log);
    const std::uint32_t huge = 0xffffffffu;
    std::memcpy(log.data() + at + 8, &huge, 4);
    record_reader reader(view(log));
    EXPECT_EQ(reader.next(), record_reader::status::damaged);
}

TEST(PersistNames, OnlyTheExactNamesRingkvWritesAreParsed) {
    const auto snapshot = parse_file_name(snapshot_name(0x1f));
    ASSERT_TRUE(snapshot);
    EXPECT_EQ(snapshot->role, file_role::snapshot);
    EXPECT_EQ(snapshot->generation, 0x1fu);
    EXPECT_FALSE(snapshot->temporary);
    const auto part = parse_file_name(part_name(7, 12));
    ASSERT_TRUE(part);
    EXPECT_EQ(part->role, file_role::part);
    EXPECT_EQ(part->core, 12u);
    const auto log = parse_file_name(log_name(UINT64_MAX, 255));
    ASSERT_TRUE(log);
    EXPECT_EQ(log->role, file_role::log);
    EXPECT_EQ(log->generation, UINT64_MAX);
    EXPECT_EQ(log->core, 255u);
    const auto being_written = parse_file_name(snapshot_name(3) + ".tmp");
    ASSERT_TRUE(being_written);
    EXPECT_TRUE(being_written->temporary);
    EXPECT_EQ(being_written->generation, 3u);
    const auto part_being_written = parse_file_name(part_name(3, 1) + ".tmp");
    ASSERT_TRUE(part_being_written);
    EXPECT_TRUE(part_being_written->temporary);
    EXPECT_EQ(part_being_written->role, file_role::part);
    // What a person may leave beside them, and near misses of every field.
    for (const char* other : {"snapshot-1.bak", "snapshot-1.rkv", "snapshot-0000000000000001.tmp.old",
                              "snapshot-0000000000000001.rkv.bak", "snapshot-0000000000000001.rkv~",
                              "snapshot-00000000000000001.rkv", "snapshot-000000000000001.rkv",
                              "snapshot-000000000000001F.rkv", "snapshot-+000000000000001.rkv",
                              "snapshot-0x00000000000001.rkv", "snapshot- 000000000000001.rkv",
                              "snapshot-0000000000000001-000.rkv", "snapshot-0000000000000001.part",
                              "snapshot-0000000000000001-1.part", "snapshot-0000000000000001-0001.part",
                              "snapshot-0000000000000001--01.part", "snapshot-0000000000000001-000.part.orig",
                              "log-0000000000000001.rkv", "log-0000000000000001-000.part",
                              "log-0000000000000001-000.rkv.tmp", "log-0000000000000001-000.rkv.orig",
                              "log-1-000.rkv", "log-0000000000000001-00.rkv", "log-0000000000000001-000.RKV",
                              "Log-0000000000000001-000.rkv", ".tmp", "snapshot-.rkv", "log-", "", "LOCK",
                              ".write-test"}) {
        EXPECT_FALSE(parse_file_name(other)) << other;
    }
    // Core numbers past three digits are written in full.
    EXPECT_TRUE(parse_file_name(log_name(1, 1000)));
}

// A temporary directory, removed with its files.
class temp_dir {
public:
    temp_dir() {
        char pattern[] = "/tmp/ringkv-persist-XXXXXX";
        _path = mkdtemp(pattern);
    }
    ~temp_dir() { std::system(("rm -rf " + _path).c_str()); }
    const std::string& path() const { return _path; }
    void write(const std::string& name, const std::vector<char>& bytes) const {
        std::ofstream(_path + "/" + name, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    }
    std::size_t size(const std::string& name) const {
        struct stat info {};
        return ::stat((_path + "/" + name).c_str(), &info) == 0 ? std::size_t(info.st_size) : 0;
    }

private:
    std::string _path;
};

// A log as ringkv starts it (header and log set record), then the records
// of sample_log().
std::vector<char> started_log(std::uint64_t generation, unsigned core = 0, log_set_record set = {1, 0}) {
    std::vector<char> out = log_start(generation, core, set);
    const std::vector<char> records = sample_log(generation);
    out.insert(out.end(), records.begin() + file_header_bytes, records.end());
    return out;
}

TEST(PersistLoader, ReplaysALogAndCutsItsTornTail) {
    temp_dir dir;
    std::vector<char> log = started_log(3);
    const std::size_t whole = log.size();
    append(sample_put(1, "c", "gamma"), log);
    log.resize(log.size() - 2);  // the crash
    dir.write(log_name(3, 0), log);
    load_result loaded = load(dir.path(), 1);
    ASSERT_EQ(loaded.error, "");
    EXPECT_EQ(dir.size(log_name(3, 0)), whole);
    EXPECT_EQ(loaded.state.generation_max, 3u);
    EXPECT_EQ(loaded.state.next_namespace_number, 2u);
    store::shard keys(1000);
    store::namespace_registry namespaces;
    const applied a = apply(loaded.state, 0, keys, namespaces, {1000, 1700000100}, 1700000100000);
    ASSERT_EQ(a.error, "");
    EXPECT_EQ(keys.size(), 1u);  // a erased, b kept, c torn off
    const store::item_ref b = keys.get(store::key_hash(1, "b"), 1, "b", {1000, 1700000100});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->value(), "beta");
    EXPECT_EQ(b->updated_at_s(), 1700000000u);
    EXPECT_EQ(b->content_type(), "text/plain");
    const store::namespace_record* n = namespaces.find_number(1);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->name, "ns-name");
    EXPECT_EQ(n->status(1000), store::namespace_status::provision_ok);
}

TEST(PersistLoader, DamageInTheMiddleNamesTheFileAndOffset) {
    temp_dir dir;
    std::vector<char> log = started_log(1);
    log[file_header_bytes + 20] ^= 4;
    dir.write(log_name(1, 0), log);
    const load_result loaded = load(dir.path(), 1);
    EXPECT_NE(loaded.error.find(log_name(1, 0)), std::string::npos) << loaded.error;
    EXPECT_NE(loaded.error.find("byte offset " + std::to_string(file_header_bytes)), std::string::npos) << loaded.error;
}

TEST(PersistLoader, TtlsAreAbsoluteAndDeletedNamespacesKeepNoKeys) {
    temp_dir dir;
    std::vector<char> log = log_start(2, 1, {2, 0});
    dir.write(log_name(2, 0), log_start(2, 0, {2, 0}));  // core 0 wrote nothing
    append(sample_namespace(1), log);
    append(sample_namespace(2), log);
    append(sample_put(1, "soon", "x", 1700000100000 + 5000), log);  // 5 s left at load
    append(sample_put(1, "past", "x", 1700000099000), log);         // expired while down
    append(sample_put(2, "doomed", "x"), log);
    append(sample_namespace(2, true), log);
    dir.write(log_name(2, 1), log);
    load_result loaded = load(dir.path(), 2);
    ASSERT_EQ(loaded.error, "");
    std::size_t total = 0;
    for (unsigned core = 0; core < 2; ++core) {
        store::shard keys(50'000);
        store::namespace_registry namespaces;
        const applied a = apply(loaded.state, core, keys, namespaces, {50'000, 1700000100}, 1700000100000);
        ASSERT_EQ(a.error, "");
        total += keys.size();
        EXPECT_EQ(namespaces.find_number(2)->status(50'000), store::namespace_status::deleting);
        if (store::item_ref soon = keys.get(store::key_hash(1, "soon"), 1, "soon", {50'000, 0})) {
            EXPECT_EQ(soon->ttl().at_ms, 55'000u);
        }
    }
    EXPECT_EQ(total, 1u);
}

TEST(PersistLoader, AMissingLogOfAGenerationIsRefusedNamingIt) {
    temp_dir dir;
    dir.write(log_name(2, 0), started_log(2, 0, {3, 0}));
    dir.write(log_name(2, 2), log_start(2, 2, {3, 0}));  // a core that never wrote: its log is still there
    const load_result loaded = load(dir.path(), 2);
    EXPECT_NE(loaded.error.find(log_name(2, 1) + " is missing"), std::string::npos) << loaded.error;
    dir.write(log_name(2, 1), log_start(2, 1, {3, 0}));
    EXPECT_EQ(load(dir.path(), 2).error, "");
    // A log past the set it names, and logs that disagree on their set.
    dir.write(log_name(2, 3), log_start(2, 3, {3, 0}));
    EXPECT_NE(load(dir.path(), 2).error.find(log_name(2, 3) + ": not one of the 3 logs"), std::string::npos);
    dir.write(log_name(2, 3), log_start(2, 3, {4, 0}));
    EXPECT_NE(load(dir.path(), 2).error.find("differs"), std::string::npos);
}

TEST(PersistLoader, TheGenerationALogSetFollowsMustBeThere) {
    temp_dir dir;
    dir.write(log_name(5, 0), started_log(5, 0, {1, 4}));
    const load_result loaded = load(dir.path(), 1);
    EXPECT_NE(loaded.error.find(log_name(4, 0) + " is missing"), std::string::npos) << loaded.error;
    dir.write(log_name(4, 0), log_start(4, 0, {1, 0}));
    const load_result whole = load(dir.path(), 1);
    EXPECT_EQ(whole.error, "");
    EXPECT_EQ(whole.state.log_generation, 5u);
}

// A crash while a generation's logs are being made (all created empty,
// then each given its header and log set record) leaves logs that end
// before their log set record: shorter than a header, a header alone, a
// log set record cut short. Nothing was logged in that generation, and
// nothing names it: it is ignored, and the next logs follow the one before.
TEST(PersistLoader, LogsWhoseCreationACrashCutShortHoldNothingAndAreIgnored) {
    temp_dir dir;
    dir.write(log_name(1, 0), started_log(1, 0, {1, 0}));
    // Generation 2's logs: one with its header only, one cut inside its
    // header, one inside its log set record, one with its set, one empty.
    std::vector<char> header;
    append_header({file_kind::log, format_version, 0, 2}, header);
    dir.write(log_name(2, 0), header);
    const std::vector<char> whole = log_start(2, 1, {5, 1});
    dir.write(log_name(2, 1), {whole.begin(), whole.begin() + 20});
    dir.write(log_name(2, 2), {whole.begin(), whole.end() - 3});
    dir.write(log_name(2, 3), log_start(2, 3, {5, 1}));
    dir.write(log_name(2, 4), {});
    const load_result loaded = load(dir.path(), 2);
    EXPECT_EQ(loaded.error, "");
    EXPECT_EQ(loaded.state.log_generation, 1u);  // what the next logs follow
    EXPECT_EQ(loaded.state.generation_max, 2u);
    EXPECT_EQ(dir.size(log_name(2, 2)), whole.size() - 3);  // not cut as a torn tail: left as found
    // But a version 2 log whose first record is not its set is damage.
    std::vector<char> bare = header;
    append(sample_put(1, "k", "v"), bare);
    dir.write(log_name(2, 0), bare);
    EXPECT_NE(load(dir.path(), 2).error.find("does not begin with its log set record"), std::string::npos);
}

// Once every log of a generation had its log set record, one that ends
// before it lost what it held (a file cut short, emptied): the start is
// refused naming it and the offset where it ends. Proof that all were
// made: records in any log of the generation (written only after), or a
// later generation's log set that follows it. (The snapshot naming its
// generation's logs: persist_integration.)
TEST(PersistLoader, ALogCutShortBeforeItsSetIsRefusedWhenItsGenerationWasMadeWhole) {
    const std::vector<char> set_only = log_start(1, 1, {2, 0});
    for (const std::size_t size : {std::size_t(0), std::size_t(20), file_header_bytes, set_only.size() - 1}) {
        temp_dir dir;
        dir.write(log_name(1, 0), started_log(1, 0, {2, 0}));  // holds records
        dir.write(log_name(1, 1), {set_only.begin(), set_only.begin() + std::ptrdiff_t(size)});
        const load_result refused = load(dir.path(), 2);
        EXPECT_NE(refused.error.find(dir.path() + "/" + log_name(1, 1) + ": cut short at byte offset " +
                                     std::to_string(size) + ", before its log set record, though " + dir.path() +
                                     "/" + log_name(1, 0) + " holds records"),
                  std::string::npos)
            << size << ": " << refused.error;
        EXPECT_EQ(dir.size(log_name(1, 1)), size);  // left as found
    }
    // No records in generation 1, but generation 2's logs follow it.
    temp_dir dir;
    dir.write(log_name(1, 0), log_start(1, 0, {2, 0}));
    dir.write(log_name(1, 1), {set_only.begin(), set_only.begin() + 20});
    EXPECT_EQ(load(dir.path(), 1).error, "");  // alone, it may be a creation a crash cut short
    dir.write(log_name(2, 0), log_start(2, 0, {1, 1}));
    const load_result followed = load(dir.path(), 1);
    EXPECT_NE(followed.error.find(log_name(1, 1) + ": cut short at byte offset 20"), std::string::npos)
        << followed.error;
    EXPECT_NE(followed.error.find(log_name(2, 0) + " names its generation as the one its logs follow"),
              std::string::npos)
        << followed.error;
}

TEST(PersistLoader, VersionOneLogsAreStillRead) {
    temp_dir dir;
    std::vector<char> old;
    append_header({file_kind::log, 1, 1, 3}, old);  // core 1 of 2, and no core 0
    append(sample_namespace(1), old);
    append(sample_put(1, "k", "v"), old);
    dir.write(log_name(3, 1), old);
    const load_result loaded = load(dir.path(), 1);
    ASSERT_EQ(loaded.error, "");
    EXPECT_EQ(loaded.state.changes[0].size(), 1u);
    EXPECT_EQ(loaded.state.log_generation, 3u);
}

TEST(PersistLoader, TheLargestClockOffsetIsRestored) {
    temp_dir dir;
    std::vector<char> log = started_log(1);
    append(clock_record{7'200'000}, log);
    append(sample_put(1, "later", "x"), log);
    append(clock_record{3'600'000}, log);  // (never written so: the clock only moves forward)
    dir.write(log_name(1, 0), log);
    const load_result loaded = load(dir.path(), 1);
    ASSERT_EQ(loaded.error, "");
    EXPECT_EQ(loaded.state.clock_offset_ms, 7'200'000u);
    std::vector<char> wild = started_log(2, 0, {1, 1});
    append(clock_record{std::uint64_t(1) << 50}, wild);
    dir.write(log_name(2, 0), wild);
    EXPECT_NE(load(dir.path(), 1).error.find("a bad clock record"), std::string::npos);
}

// A generation past generation_max_allowed (a stray file, a damaged name)
// would make this run's generations wrap round to 0, onto the names of
// older files: the start is refused naming the file. At the bound itself,
// it starts.
TEST(PersistLoader, AGenerationThatWouldWrapRoundIsRefusedNamingTheFile) {
    temp_dir dir;
    dir.write(log_name(1, 0), started_log(1));
    dir.write(part_name(generation_max_allowed, 0), {});  // a part no snapshot lists: never read
    const load_result at_bound = load(dir.path(), 1);
    EXPECT_EQ(at_bound.error, "");
    EXPECT_EQ(at_bound.state.generation_max, generation_max_allowed);
    for (const std::string& stray : {part_name(generation_max_allowed + 1, 0), part_name(UINT64_MAX, 0) + ".tmp"}) {
        dir.write(stray, {});
        const load_result refused = load(dir.path(), 1);
        EXPECT_NE(refused.error.find(dir.path() + "/" + stray + ": generation "), std::string::npos) << refused.error;
        EXPECT_NE(refused.error.find("wrap round to 0"), std::string::npos) << refused.error;
        std::remove((dir.path() + "/" + stray).c_str());
    }
}

// Every file ringkv makes is new (O_EXCL): a name already taken is an
// error, and the file that holds it is left as it was (it used to be
// truncated), as are the names this call did not make.
TEST(PersistLoader, NewLogsNeverTakeAnExistingFile) {
    temp_dir dir;
    const std::vector<char> precious = started_log(5, 1, {2, 0});
    dir.write(log_name(5, 1), precious);
    const std::string error = create_logs_now(dir.path(), 5, {2, 0});
    EXPECT_NE(error.find(log_name(5, 1) + ": File exists"), std::string::npos) << error;
    EXPECT_EQ(dir.size(log_name(5, 1)), precious.size());
    EXPECT_EQ(dir.size(log_name(5, 0)), 0u);
    EXPECT_NE(::access((dir.path() + "/" + log_name(5, 0)).c_str(), F_OK), 0) << "a log made by the failed call is left";
    EXPECT_EQ(create_logs_now(dir.path(), 6, {2, 5}), "");
    struct stat info {};
    ASSERT_EQ(::stat((dir.path() + "/" + log_name(6, 1)).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 077, 0u) << "logs hold bearer tokens: the owner's only";
}

// Only regular files are read. A FIFO named like a log used to block the
// start (here a writer holds it open, so the old code read it as an empty
// log and went on); a symlink or a directory is refused too, each named.
TEST(PersistLoader, OnlyRegularFilesAreReadAndOthersAreNamed) {
    temp_dir dir;
    dir.write(log_name(1, 0), started_log(1));
    const std::string fifo = dir.path() + "/" + log_name(2, 0);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
    ASSERT_GE(writer, 0);
    const load_result refused = load(dir.path(), 1);
    ::close(writer);
    EXPECT_NE(refused.error.find(fifo + ": a FIFO"), std::string::npos) << refused.error;
    std::remove(fifo.c_str());
    const std::string link = dir.path() + "/" + log_name(3, 0);
    ASSERT_EQ(::symlink((dir.path() + "/" + log_name(1, 0)).c_str(), link.c_str()), 0);
    EXPECT_NE(load(dir.path(), 1).error.find(link + ": a symbolic link"), std::string::npos);
    std::remove(link.c_str());
    ASSERT_EQ(::mkdir(link.c_str(), 0700), 0);
    EXPECT_NE(load(dir.path(), 1).error.find(link + ": a directory"), std::string::npos);
    ::rmdir(link.c_str());
    EXPECT_EQ(load(dir.path(), 1).error, "");
}

// apply() sorts a core's changes by a key prefix and applies each key's
// last change only: against a plain replay, with keys that share their
// first 8 bytes, differ only past them, hold zero bytes or bytes >= 0x80,
// and changes given in any order of sequence.
TEST(PersistLoader, ApplyKeepsEachKeysLastChangeAndTheByteOrder) {
    using namespace std::string_literals;
    const std::vector<std::string> names = {"a", "a\0"s, "ab", "abcdefgh", "abcdefgh\0"s, "abcdefghi", "abcdefghij",
                                            "abcdefgi", "\x80", "\xff\xff", "prefix00", "prefix00a", "prefix00b",
                                            "prefix00\xff", "prefix0", "z", "k1", "k10", "k100000000", "k99"};
    std::mt19937 random(7);
    loaded_state state;
    state.namespaces[1] = sample_namespace(1);
    state.namespaces[2] = sample_namespace(2);
    state.changes.resize(1);
    std::vector<std::vector<char>> records;  // the bytes the changes point into
    std::map<std::pair<std::uint32_t, std::string>, std::string> expected;
    for (std::uint64_t sequence = 1; sequence <= 400; ++sequence) {
        const std::uint32_t ns = 1 + random() % 2;
        const std::string& key = names[random() % names.size()];
        const bool erase = random() % 4 == 0;
        const std::string value = "v" + std::to_string(sequence);
        std::vector<char>& bytes = records.emplace_back();
        if (erase) append(erase_record{ns, key}, bytes);
        else append(sample_put(ns, key, value), bytes);
        const std::string_view body(bytes.data() + record_header_bytes, bytes.size() - record_header_bytes);
        const std::string_view stored_key = erase ? decode_erase(body)->key : decode_put(body)->key;
        state.changes[0].push_back({store::key_hash(ns, key), key_prefix_of(key), body, stored_key, sequence, ns, erase});
        if (erase) expected.erase({ns, key});
        else expected[{ns, key}] = value;
    }
    std::shuffle(state.changes[0].begin(), state.changes[0].end(), random);
    store::shard keys(1000);
    store::namespace_registry namespaces;
    const applied a = apply(state, 0, keys, namespaces, {1000, 1700000100}, 1700000100000);
    ASSERT_EQ(a.error, "");
    EXPECT_EQ(keys.size(), expected.size());
    for (std::uint32_t ns : {1u, 2u}) {
        std::vector<store::list_entry> listed;
        keys.list(ns, "", "", 1000, {1000, 1700000100}, listed);
        std::vector<std::string> want;
        for (const auto& [at, value] : expected) {
            if (at.first == ns) want.push_back(at.second);
        }
        ASSERT_EQ(listed.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(listed[i].key, want[i]) << i;  // std::string orders bytes as unsigned, like the index
            const store::item_ref found = keys.get(store::key_hash(ns, want[i]), ns, want[i], {1000, 1700000100});
            ASSERT_TRUE(found);
            EXPECT_EQ(found->value(), expected.at({ns, want[i]}));
        }
    }
}

TEST(PersistLoader, KeyPrefixesOrderLikeTheKeys) {
    using namespace std::string_literals;
    EXPECT_EQ(key_prefix_of("abcdefghij"), key_prefix_of("abcdefgh"));
    EXPECT_EQ(key_prefix_of("a"), key_prefix_of("a\0"s));  // equal prefixes: the keys decide
    EXPECT_LT(key_prefix_of("a"), key_prefix_of("ab"));
    EXPECT_LT(key_prefix_of("a\x7f"), key_prefix_of("a\x80"));
    EXPECT_LT(key_prefix_of(""), key_prefix_of("\x01"));
}

}  // namespace
}  // namespace ringkv::persist
