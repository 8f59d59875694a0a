// The file formats and the loader, on files written by hand in a temporary
// directory: round trips, every truncation point, a flipped byte anywhere,
// a newer version, and what apply() restores (times, TTLs, namespaces).
#include <ringkv/persist/format.hh>
#include <ringkv/persist/journal.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/store/sharding.hh>

#include <gtest/gtest.h>
#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
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

TEST(PersistFormat, GenerationWholeRecordsRoundTripAndDecodeOnlyTheirOwnBodies) {
    std::vector<char> file;
    append_header({file_kind::log, format_version, 0, 7}, file);
    append(generation_whole_record{0x0123456789abcdefu}, file);
    EXPECT_EQ(file.size(), file_header_bytes + record_header_bytes + 1 + 8);
    record_reader reader(view(file));
    ASSERT_EQ(reader.next(), record_reader::status::record);
    EXPECT_EQ(reader.current().type, record_type::generation_whole);
    const auto whole = decode_generation_whole(reader.current().body);
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole->generation, 0x0123456789abcdefu);
    EXPECT_EQ(reader.next(), record_reader::status::end);
    EXPECT_EQ(check_file(view(file)), "");
    // A body a byte short or long, another type's, or none: not one.
    const std::string body(reader.current().body);
    EXPECT_FALSE(decode_generation_whole(body.substr(0, body.size() - 1)));
    EXPECT_FALSE(decode_generation_whole(body + '\0'));
    EXPECT_FALSE(decode_generation_whole(""));
    std::string clock = body;
    clock[0] = char(record_type::clock);
    EXPECT_FALSE(decode_generation_whole(clock));
    EXPECT_TRUE(decode_clock(clock));
    // log_whole is that record, for the generation given.
    std::vector<char> expected;
    append(generation_whole_record{7}, expected);
    EXPECT_EQ(log_whole(7), expected);
}

// Each decoder takes a body of its own type only (the type byte first):
// every record's body given to every decoder decodes in its own alone.
TEST(PersistFormat, EachDecoderTakesOnlyBodiesOfItsOwnType) {
    std::vector<char> file;
    append_header({file_kind::log, format_version, 0, 1}, file);
    append(sample_put(1, "k", "v"), file);
    append(erase_record{1, "k"}, file);
    append(sample_namespace(1), file);
    append(snapshot_meta_record{2, 3, 4}, file);
    append(part_record{1, 2, 3}, file);
    append(end_record{5}, file);
    append(log_set_record{2, 1}, file);
    append(clock_record{6}, file);
    append(generation_whole_record{7}, file);
    record_reader reader(view(file));
    std::size_t records = 0;
    while (reader.next() == record_reader::status::record) {
        const std::string_view body = reader.current().body;
        const record_type type = reader.current().type;
        EXPECT_EQ(bool(decode_put(body)), type == record_type::put) << int(type);
        EXPECT_EQ(bool(decode_erase(body)), type == record_type::erase) << int(type);
        EXPECT_EQ(bool(decode_namespace_state(body)), type == record_type::namespace_state) << int(type);
        EXPECT_EQ(bool(decode_snapshot_meta(body)), type == record_type::snapshot_meta) << int(type);
        EXPECT_EQ(bool(decode_part(body)), type == record_type::part) << int(type);
        EXPECT_EQ(bool(decode_end(body)), type == record_type::end) << int(type);
        EXPECT_EQ(bool(decode_log_set(body)), type == record_type::log_set) << int(type);
        EXPECT_EQ(bool(decode_clock(body)), type == record_type::clock) << int(type);
        EXPECT_EQ(bool(decode_generation_whole(body)), type == record_type::generation_whole) << int(type);
        ++records;
    }
    EXPECT_EQ(records, 9u);
    EXPECT_EQ(decode_part(std::string_view()), std::nullopt);
}

// Why a new record type raises the format version: a reader that does not
// know a type takes a record of it for a torn tail when it is the last one
// (and would cut it off), for damage when records follow. A binary of
// version 2 meets no generation_whole record: it refuses the version 3
// header first ("newer").
TEST(PersistFormat, ARecordOfAnUnknownTypeIsNeverReadAsARecord) {
    std::vector<char> file;
    append_header({file_kind::log, format_version, 0, 1}, file);
    const std::size_t at = file.size();
    append(clock_record{5}, file);
    file[at + record_header_bytes] = char(std::uint8_t(record_type::generation_whole) + 1);  // a type no version has
    const std::uint64_t check = XXH3_64bits(file.data() + at + 8, file.size() - at - 8);
    std::memcpy(file.data() + at, &check, sizeof(check));  // whole but for its type
    record_reader last(view(file));
    EXPECT_EQ(last.next(), record_reader::status::torn);
    append(clock_record{6}, file);
    record_reader followed(view(file));
    EXPECT_EQ(followed.next(), record_reader::status::damaged);
    for (const std::uint32_t version : {1u, 2u, format_version}) {
        std::vector<char> header;
        append_header({file_kind::log, version, 0, 1}, header);
        EXPECT_TRUE(read_header(view(header)).header) << version;
    }
    std::vector<char> newer;
    append_header({file_kind::log, format_version + 1, 0, 1}, newer);
    EXPECT_EQ(read_header(view(newer)).error, "format version " + std::to_string(format_version + 1) +
                                                  " is newer than this ringkv reads (" + std::to_string(format_version) +
                                                  "); use a newer ringkv");
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

// A log as ringkv makes one, before any change: its header, log set
// record and generation_whole record.
std::vector<char> made_log(std::uint64_t generation, unsigned core = 0, log_set_record set = {1, 0}) {
    std::vector<char> out = log_start(generation, core, set);
    const std::vector<char> whole = log_whole(generation);
    out.insert(out.end(), whole.begin(), whole.end());
    return out;
}

// A log as ringkv makes one, then the records of sample_log().
std::vector<char> started_log(std::uint64_t generation, unsigned core = 0, log_set_record set = {1, 0}) {
    std::vector<char> out = made_log(generation, core, set);
    const std::vector<char> records = sample_log(generation);
    out.insert(out.end(), records.begin() + file_header_bytes, records.end());
    return out;
}

std::vector<char> prefix(const std::vector<char>& bytes, std::size_t size) {
    return {bytes.begin(), bytes.begin() + std::ptrdiff_t(size)};
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
    std::vector<char> log = made_log(2, 1, {2, 0});
    dir.write(log_name(2, 0), made_log(2, 0, {2, 0}));  // core 0 wrote nothing
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
    dir.write(log_name(2, 2), made_log(2, 2, {3, 0}));  // a core that never wrote: its log is still there
    const load_result loaded = load(dir.path(), 2);
    EXPECT_NE(loaded.error.find(log_name(2, 1) + " is missing"), std::string::npos) << loaded.error;
    dir.write(log_name(2, 1), made_log(2, 1, {3, 0}));
    EXPECT_EQ(load(dir.path(), 2).error, "");
    // A log past the set it names, and logs that disagree on their set.
    dir.write(log_name(2, 3), made_log(2, 3, {3, 0}));
    EXPECT_NE(load(dir.path(), 2).error.find(log_name(2, 3) + ": not one of the 3 logs"), std::string::npos);
    dir.write(log_name(2, 3), made_log(2, 3, {4, 0}));
    EXPECT_NE(load(dir.path(), 2).error.find("differs"), std::string::npos);
}

TEST(PersistLoader, TheGenerationALogSetFollowsMustBeThere) {
    temp_dir dir;
    dir.write(log_name(5, 0), started_log(5, 0, {1, 4}));
    const load_result loaded = load(dir.path(), 1);
    EXPECT_NE(loaded.error.find(log_name(4, 0) + " is missing"), std::string::npos) << loaded.error;
    dir.write(log_name(4, 0), made_log(4, 0, {1, 0}));
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
    // But a log (of version 2 on) whose first record is not its set is damage.
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
    dir.write(log_name(2, 0), made_log(2, 0, {1, 1}));
    const load_result followed = load(dir.path(), 1);
    EXPECT_NE(followed.error.find(log_name(1, 1) + ": cut short at byte offset 20"), std::string::npos)
        << followed.error;
    EXPECT_NE(followed.error.find(log_name(2, 0) + " names its generation as the one its logs follow"),
              std::string::npos)
        << followed.error;
}

// The reviewer's case: only core 1 wrote in generation 1, then its log was
// cut short (emptied, say). Core 0's log holds its start alone, and no
// snapshot or later log set names the generation: before generation_whole
// records, nothing told this from a crash while the logs were being made,
// and the start went on without the cut log's changes. Core 0's
// generation_whole record proves every log had its start: refused, naming
// the cut log and where it ends, wherever the cut.
TEST(PersistLoader, ALogCutShortIsRefusedWhenAnotherLogOfItsGenerationHoldsItsGenerationWholeRecord) {
    const std::vector<char> written = started_log(1, 1, {2, 0});
    const std::size_t start_bytes = log_start(1, 1, {2, 0}).size();
    const std::size_t made_bytes = made_log(1, 1, {2, 0}).size();
    for (const std::size_t size : {std::size_t(0), std::size_t(20), file_header_bytes, start_bytes - 1, start_bytes,
                                   start_bytes + 10, made_bytes - 1}) {
        temp_dir dir;
        dir.write(log_name(1, 0), made_log(1, 0, {2, 0}));  // core 0 wrote nothing
        dir.write(log_name(1, 1), prefix(written, size));
        const load_result refused = load(dir.path(), 2);
        const char* before = size < start_bytes ? "log set" : "generation_whole";
        EXPECT_NE(refused.error.find(dir.path() + "/" + log_name(1, 1) + ": cut short at byte offset " +
                                     std::to_string(size) + ", before its " + before + " record, though " +
                                     dir.path() + "/" + log_name(1, 0) + " holds its generation_whole record"),
                  std::string::npos)
            << size << ": " << refused.error;
        EXPECT_EQ(dir.size(log_name(1, 1)), size);  // left as found
        dir.write(log_name(1, 1), written);
        const load_result whole = load(dir.path(), 2);
        EXPECT_EQ(whole.error, "");
        EXPECT_EQ(whole.state.log_generation, 1u);
        EXPECT_EQ(whole.state.records, 4u);
    }
    // Core 1's generation_whole record proves every log has its log set
    // record: core 0's log cut short before it is refused too.
    temp_dir dir;
    dir.write(log_name(1, 0), prefix(started_log(1, 0, {2, 0}), 20));
    dir.write(log_name(1, 1), made_log(1, 1, {2, 0}));
    const load_result refused = load(dir.path(), 2);
    EXPECT_NE(refused.error.find(log_name(1, 0) + ": cut short at byte offset 20, before its log set record, though " +
                                 dir.path() + "/" + log_name(1, 1) + " holds its generation_whole record"),
              std::string::npos)
        << refused.error;
}

// generation_whole records are written once every log has its log set
// record, core 0's last, then fdatasync'd; a crash meanwhile leaves some
// logs with theirs and some without (or with one cut short), and no
// record of a change anywhere. Nothing was lost: the generation is
// ignored, its files are left as found, and the next logs follow the
// generation before. A later log set that follows it proves it whole.
TEST(PersistLoader, ACrashWhileGenerationWholeRecordsWereWrittenLeavesLogsThatAreIgnored) {
    const std::vector<char> start_0 = log_start(2, 0, {2, 1}), start_1 = log_start(2, 1, {2, 1});
    const std::vector<char> made_0 = made_log(2, 0, {2, 1}), made_1 = made_log(2, 1, {2, 1});
    const std::vector<std::pair<std::vector<char>, std::vector<char>>> crashes = {
        {start_0, start_1},                              // none written yet
        {start_0, prefix(made_1, made_1.size() - 4)},    // core 1's cut short
        {start_0, made_1},                               // every one but core 0's
        {prefix(made_0, made_0.size() - 1), made_1},     // core 0's cut short
    };
    for (std::size_t i = 0; i < crashes.size(); ++i) {
        temp_dir dir;
        dir.write(log_name(1, 0), started_log(1, 0, {1, 0}));
        dir.write(log_name(2, 0), crashes[i].first);
        dir.write(log_name(2, 1), crashes[i].second);
        const load_result loaded = load(dir.path(), 2);
        EXPECT_EQ(loaded.error, "") << i;
        EXPECT_EQ(loaded.state.log_generation, 1u) << i;  // what the next logs follow
        EXPECT_EQ(loaded.state.generation_max, 2u) << i;
        EXPECT_EQ(dir.size(log_name(2, 0)), crashes[i].first.size()) << i;  // not cut as a torn tail
        EXPECT_EQ(dir.size(log_name(2, 1)), crashes[i].second.size()) << i;
        dir.write(log_name(3, 0), made_log(3, 0, {1, 2}));
        const load_result followed = load(dir.path(), 2);
        EXPECT_NE(followed.error.find(": cut short at byte offset "), std::string::npos) << i << ": " << followed.error;
        EXPECT_NE(followed.error.find(log_name(3, 0) + " names its generation as the one its logs follow"),
                  std::string::npos)
            << i << ": " << followed.error;
    }
}

// A record after a log's start proves that every log of its generation has
// its generation_whole record: one cut short before its own is refused.
TEST(PersistLoader, ALogCutShortBeforeItsGenerationWholeRecordIsRefusedWhenAnyLogHoldsRecords) {
    temp_dir dir;
    const std::vector<char> made_1 = made_log(1, 1, {2, 0});
    dir.write(log_name(1, 0), started_log(1, 0, {2, 0}));
    dir.write(log_name(1, 1), prefix(made_1, made_1.size() - 1));
    const load_result refused = load(dir.path(), 2);
    EXPECT_NE(refused.error.find(log_name(1, 1) + ": cut short at byte offset " + std::to_string(made_1.size() - 1) +
                                 ", before its generation_whole record, though " + dir.path() + "/" + log_name(1, 0) +
                                 " holds records"),
              std::string::npos)
        << refused.error;
}

// A crash while a generation's logs are made can leave a log whose size
// reached the disk and whose data did not: zero bytes alone, as many as
// part of a header, a header or a whole start (no more: records follow
// only once every start is durable). Nothing of
// its start is there: it is judged like a log that ends before its log
// set record. Ignored while nothing proves its generation whole (it used
// to stop the start as "bad magic bytes"); refused, naming it and byte
// offset 0, once anything does: another log's generation_whole record or
// records, or a later log set that follows its generation.
TEST(PersistLoader, ALogOfZeroBytesAloneIsACrashInTheMakingUnlessItsGenerationIsProvenWhole) {
    const std::size_t made_bytes = made_log(2, 0, {2, 1}).size();
    for (const std::size_t size : {std::size_t(1), std::size_t(20), file_header_bytes, made_bytes}) {
        const std::vector<char> zeros(size, 0);
        const std::string zero_refusal = ": holds only zero bytes (" + std::to_string(size) +
                                         "), from byte offset 0, where its header and log set record belong, though ";
        {
            // Crashes in step 1 (both logs zeros) and in step 2 (the other
            // log holds its log set record alone).
            for (const bool other_has_its_set : {false, true}) {
                temp_dir dir;
                dir.write(log_name(1, 0), started_log(1, 0, {1, 0}));
                dir.write(log_name(2, 0), zeros);
                dir.write(log_name(2, 1), other_has_its_set ? log_start(2, 1, {2, 1}) : zeros);
                const load_result loaded = load(dir.path(), 2);
                EXPECT_EQ(loaded.error, "") << size << " " << other_has_its_set;
                EXPECT_EQ(loaded.state.log_generation, 1u) << size;  // what the next logs follow
                EXPECT_EQ(loaded.state.records, 4u) << size;         // generation 1's, whole
                EXPECT_EQ(dir.size(log_name(2, 0)), size);          // left as found
                // A later log set that follows generation 2 proves it whole.
                dir.write(log_name(3, 0), made_log(3, 0, {1, 2}));
                const load_result followed = load(dir.path(), 2);
                const std::string proof = zero_refusal + dir.path() + "/" + log_name(3, 0) +
                                          " names its generation as the one its logs follow";
                // (With both of zeros, either is named: the first the directory lists.)
                const bool named_0 = followed.error.starts_with(dir.path() + "/" + log_name(2, 0) + proof);
                const bool named_1 = followed.error.starts_with(dir.path() + "/" + log_name(2, 1) + proof);
                EXPECT_TRUE(named_0 || (named_1 && !other_has_its_set)) << size << ": " << followed.error;
            }
        }
        // Core 0's generation_whole record, written last, proves every log
        // had its start; records in a log prove it too.
        temp_dir dir;
        dir.write(log_name(1, 0), made_log(1, 0, {2, 0}));
        dir.write(log_name(1, 1), zeros);
        const load_result refused = load(dir.path(), 2);
        EXPECT_NE(refused.error.find(dir.path() + "/" + log_name(1, 1) + zero_refusal + dir.path() + "/" +
                                     log_name(1, 0) + " holds its generation_whole record"),
                  std::string::npos)
            << size << ": " << refused.error;
        dir.write(log_name(1, 0), zeros);
        dir.write(log_name(1, 1), started_log(1, 1, {2, 0}));
        const load_result holds_records = load(dir.path(), 2);
        EXPECT_NE(holds_records.error.find(dir.path() + "/" + log_name(1, 0) + zero_refusal + dir.path() + "/" +
                                           log_name(1, 1) + " holds records"),
                  std::string::npos)
            << size << ": " << holds_records.error;
        EXPECT_EQ(dir.size(log_name(1, 0)), size);  // left as found
    }
    // Zeros with any other byte are not what a crash leaves: a header that
    // is not one is refused as before, proven or not.
    const auto refusal_of = [&](const std::vector<char>& log) {
        temp_dir dir;
        dir.write(log_name(1, 0), started_log(1, 0, {1, 0}));
        dir.write(log_name(2, 0), log);
        dir.write(log_name(2, 1), log_start(2, 1, {2, 1}));
        return load(dir.path(), 2).error;
    };
    for (const std::size_t other : {std::size_t(0), std::size_t(5), file_header_bytes, made_bytes - 1}) {
        std::vector<char> almost(made_bytes, 0);
        almost[other] = 1;
        const std::string error = refusal_of(almost);
        EXPECT_NE(error.find(log_name(2, 0) + ": not a ringkv file (bad magic bytes) at byte offset 0"),
                  std::string::npos)
            << other << ": " << error;
    }
    // More zeros than a whole start: records were there, and are lost.
    for (const std::size_t size : {made_bytes + 1, std::size_t(4096)}) {
        const std::string error = refusal_of(std::vector<char>(size, 0));
        EXPECT_NE(error.find(log_name(2, 0) + ": not a ringkv file (bad magic bytes) at byte offset 0"),
                  std::string::npos)
            << size << ": " << error;
    }
    std::vector<char> magic_alone(made_bytes, 0);
    std::memcpy(magic_alone.data(), "RINGKV", 6);
    const std::string error = refusal_of(magic_alone);
    EXPECT_NE(error.find(log_name(2, 0) + ": the file header fails its checksum at byte offset 0"), std::string::npos)
        << error;
}

// The start of a version 3 log is its log set record, then its
// generation_whole record naming its generation; anything else there, or
// a generation_whole record anywhere else, is damage.
TEST(PersistLoader, AGenerationWholeRecordOutOfPlaceIsDamage) {
    const auto refusal = [](const std::vector<char>& log) {
        temp_dir dir;
        dir.write(log_name(1, 0), log);
        return load(dir.path(), 1).error;
    };
    std::vector<char> no_whole = log_start(1, 0, {1, 0});
    append(sample_put(1, "k", "v"), no_whole);
    EXPECT_NE(refusal(no_whole).find("its log set record is not followed by its generation_whole record"),
              std::string::npos);
    std::vector<char> another_generation = log_start(1, 0, {1, 0});
    append(generation_whole_record{2}, another_generation);
    EXPECT_NE(refusal(another_generation).find("a bad generation_whole record"), std::string::npos);
    std::vector<char> twice = made_log(1);
    append(generation_whole_record{1}, twice);
    append(sample_put(1, "k", "v"), twice);  // (as the last record, a bad one would be a torn tail)
    EXPECT_NE(refusal(twice).find("a bad generation_whole record"), std::string::npos);
    std::vector<char> version_2;
    append_header({file_kind::log, 2, 0, 1}, version_2);
    append(log_set_record{1, 0}, version_2);
    append(generation_whole_record{1}, version_2);
    append(sample_put(1, "k", "v"), version_2);
    EXPECT_NE(refusal(version_2).find("a bad generation_whole record"), std::string::npos);
    EXPECT_EQ(refusal(started_log(1)), "");
}

// Logs of version 2 (written before generation_whole records existed) are
// still read by their own rule: a log set record, then the changes; records
// in any log prove every log had its log set record. A generation's logs
// are all of one version.
TEST(PersistLoader, VersionTwoLogsAreStillRead) {
    const auto version_2_start = [](unsigned core) {
        std::vector<char> out;
        append_header({file_kind::log, 2, core, 1}, out);
        append(log_set_record{2, 0}, out);
        return out;
    };
    std::vector<char> written = version_2_start(0);
    const std::vector<char> records = sample_log(1);
    written.insert(written.end(), records.begin() + file_header_bytes, records.end());
    temp_dir dir;
    dir.write(log_name(1, 0), written);
    dir.write(log_name(1, 1), version_2_start(1));  // whole: version 2 has no generation_whole record
    const load_result loaded = load(dir.path(), 2);
    ASSERT_EQ(loaded.error, "");
    EXPECT_EQ(loaded.state.log_generation, 1u);
    EXPECT_EQ(loaded.state.records, 4u);
    dir.write(log_name(1, 1), prefix(version_2_start(1), 20));
    EXPECT_NE(load(dir.path(), 2).error.find(log_name(1, 1) + ": cut short at byte offset 20, before its log set "
                                                               "record, though " + dir.path() + "/" + log_name(1, 0) +
                                             " holds records"),
              std::string::npos);
    dir.write(log_name(1, 1), made_log(1, 1, {2, 0}));
    const std::string mixed = load(dir.path(), 2).error;  // (which is named first: the order the directory lists them)
    EXPECT_NE(mixed.find(": its format version ("), std::string::npos) << mixed;
    EXPECT_NE(mixed.find(") differs from that of "), std::string::npos) << mixed;
    EXPECT_NE(mixed.find(log_name(1, 0)), std::string::npos) << mixed;
    EXPECT_NE(mixed.find(log_name(1, 1)), std::string::npos) << mixed;
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
    // Each made whole: its start, then its generation_whole record.
    std::ifstream made(dir.path() + "/" + log_name(6, 1), std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(made), std::istreambuf_iterator<char>()};
    EXPECT_EQ(bytes, made_log(6, 1, {2, 5}));
    struct stat info {};
    ASSERT_EQ(::stat((dir.path() + "/" + log_name(6, 1)).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 077, 0u) << "logs hold bearer tokens: the owner's only";
}

std::size_t changes_of(const load_result& loaded) {
    std::size_t count = 0;
    for (const auto& core : loaded.state.changes) count += core.size();
    return count;
}

// Generation 1 (two cores, records in core 0's log) beside generation 2's
// two logs, made whole (no records): a making that failed after its last
// step's write, which undo_logs then undoes.
void write_made_beside_records(temp_dir& dir) {
    dir.write(log_name(1, 0), started_log(1, 0, {2, 0}));
    dir.write(log_name(1, 1), made_log(1, 1, {2, 0}));
    dir.write(log_name(2, 0), made_log(2, 0, {2, 1}));
    dir.write(log_name(2, 1), made_log(2, 1, {2, 1}));
}

// Undoing a making that failed (a disk full, an fsync error) goes through
// states a start reads as a making a crash cut short: stopped (as a crash
// would stop it) after each step, the start succeeds with every change of
// generation 1 and follows generation 1, and so does a later generation
// whose set follows 1 (the run kept logging there). The undo used to
// remove core 0's log first, from its whole state: a crash then left core
// 1's set naming a missing log, and the start was refused.
TEST(PersistLoader, EveryStepOfUndoingAFailedMakingLeavesLogsAStartAccepts) {
    std::size_t changes = 0;
    {
        temp_dir dir;
        dir.write(log_name(1, 0), started_log(1, 0, {2, 0}));
        dir.write(log_name(1, 1), made_log(1, 1, {2, 0}));
        const load_result alone = load(dir.path(), 2);
        ASSERT_EQ(alone.error, "");
        changes = changes_of(alone);
        ASSERT_GT(changes, 0u);
    }
    const std::size_t start_bytes = log_start(2, 0, {2, 1}).size();
    // (core 0's size, core 1's size) after each step; -1: removed.
    const std::vector<std::pair<long, long>> after_step = {
        {86, 86}, {long(start_bytes), 86}, {long(start_bytes), long(start_bytes)}, {0, long(start_bytes)},
        {0, 0},   {-1, 0},                 {-1, -1},
    };
    ASSERT_EQ(made_log(2, 0, {2, 1}).size(), 86u);
    for (std::size_t steps = 0; steps < after_step.size(); ++steps) {
        temp_dir dir;
        write_made_beside_records(dir);
        const std::string stopped = undo_logs(dir.path(), 2, 2, steps);
        EXPECT_EQ(stopped.empty(), steps + 1 == after_step.size()) << steps << ": " << stopped;
        for (unsigned core = 0; core < 2; ++core) {
            const long expected = core == 0 ? after_step[steps].first : after_step[steps].second;
            const bool present = ::access((dir.path() + "/" + log_name(2, core)).c_str(), F_OK) == 0;
            EXPECT_EQ(present, expected >= 0) << steps << " core " << core;
            if (present) {
                EXPECT_EQ(long(dir.size(log_name(2, core))), expected) << steps << " core " << core;
            }
        }
        const load_result loaded = load(dir.path(), 2);
        EXPECT_EQ(loaded.error, "") << steps;
        EXPECT_EQ(changes_of(loaded), changes) << steps;
        // Only a generation made whole is followed; it holds nothing.
        EXPECT_EQ(loaded.state.log_generation, steps == 0 ? 2u : 1u) << steps;
        // The run that failed to make generation 2 went on in generation 1,
        // and a later making (3) follows 1: accepted, every change kept.
        dir.write(log_name(3, 0), made_log(3, 0, {2, 1}));
        std::vector<char> records_3 = made_log(3, 1, {2, 1});
        append(sample_put(1, "c", "gamma"), records_3);
        dir.write(log_name(3, 1), records_3);
        const load_result later = load(dir.path(), 2);
        EXPECT_EQ(later.error, "") << steps;
        EXPECT_EQ(changes_of(later), changes + 1) << steps;
        EXPECT_EQ(later.state.log_generation, 3u) << steps;
    }
}

// Why the undo's order: each other order leaves, at a crash, a state the
// start refuses (the old undo's first step, core 0's log removed, among them).
TEST(PersistLoader, UndoingAMakingInAnyOtherOrderCanLeaveLogsAStartRefuses) {
    const std::vector<char> made_0 = made_log(2, 0, {2, 1}), made_1 = made_log(2, 1, {2, 1});
    const std::vector<char> start_0 = log_start(2, 0, {2, 1}), start_1 = log_start(2, 1, {2, 1});
    struct wrong_order {
        std::optional<std::vector<char>> core_0, core_1;  // nullopt: removed
        std::string refusal;
    };
    const std::vector<wrong_order> states = {
        {std::nullopt, made_1, log_name(2, 0) + " is missing"},   // core 0 removed first (the old undo)
        {std::nullopt, start_1, log_name(2, 0) + " is missing"},  // removed before the others were emptied
        {made_0, start_1, log_name(2, 1) + ": cut short"},        // core 1's marker dropped before core 0's
        {std::vector<char>{}, made_1, log_name(2, 0) + ": cut short"},  // emptied while core 1 had its marker
    };
    for (std::size_t i = 0; i < states.size(); ++i) {
        temp_dir dir;
        write_made_beside_records(dir);
        for (unsigned core = 0; core < 2; ++core) {
            const std::optional<std::vector<char>>& bytes = core == 0 ? states[i].core_0 : states[i].core_1;
            if (bytes) dir.write(log_name(2, core), *bytes);
            else std::remove((dir.path() + "/" + log_name(2, core)).c_str());
        }
        const load_result refused = load(dir.path(), 2);
        EXPECT_NE(refused.error.find(states[i].refusal), std::string::npos) << i << ": " << refused.error;
    }
}

// create_logs_now that fails removes what it made (and only that).
TEST(PersistLoader, AFailedMakingRemovesItsLogsThroughTheUndo) {
    temp_dir dir;
    dir.write(log_name(4, 2), {});  // taken: core 2's log cannot be made
    EXPECT_NE(create_logs_now(dir.path(), 4, {3, 0}).find(log_name(4, 2) + ": File exists"), std::string::npos);
    for (unsigned core = 0; core < 2; ++core) {
        EXPECT_NE(::access((dir.path() + "/" + log_name(4, core)).c_str(), F_OK), 0) << core;
    }
    EXPECT_EQ(::access((dir.path() + "/" + log_name(4, 2)).c_str(), F_OK), 0);
    ASSERT_EQ(create_logs_now(dir.path(), 5, {2, 0}), "");
    EXPECT_EQ(undo_logs(dir.path(), 5, 2), "");
    for (unsigned core = 0; core < 2; ++core) {
        EXPECT_NE(::access((dir.path() + "/" + log_name(5, core)).c_str(), F_OK), 0) << core;
    }
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
