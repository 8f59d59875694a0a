// The --data-dir decoders (src/persist/format.cc, loader.cc): files read at
// start-up, which a crash, a disk or a person may have damaged.
//
// Input: [mode 1][rest...]
//   mode 0: the rest is a whole file. check_file() never crashes; the
//     record reader's offsets only move forward and stay inside the bytes;
//     every record it accepts decodes to what re-encodes byte for byte.
//   mode 1: the rest is the records of a log, behind a valid start (header,
//     log set and generation_whole records): the same oracles where the
//     header no longer stops the input early.
//   mode 2: the rest is written as a log file (after a valid start) in a
//     scratch directory and load() + apply() run on it for two cores: the
//     whole start-up path, truncation of a torn tail included. Either the
//     load refuses with a message naming the file, or every core applies
//     its share within its memory budget.
//   mode 3: [presence 1][rest...]: a generation of two logs, the rest split
//     between them (each after a valid start naming both); presence leaves
//     out one of them or neither. With one left out, the load must refuse
//     naming it as missing, whatever the other holds; with both there, as
//     mode 2.
//   mode 3, presence 3: [presence 1][cut 1][rest...]: core 0's log holds
//     the rest after its start, core 1's is its start cut to `cut` bytes,
//     short of whole. Core 0's generation_whole record (written last of the
//     generation's) proves that core 1's log had its whole start: the load
//     must refuse, naming a log, whatever the rest.
//   mode 3, presence 4: [presence 1][cut 1][rest...]: the other way round:
//     core 1's log holds the rest after its start, core 0's is its start
//     cut short. Cut before the end of its log set record, it must be
//     refused (core 1's generation_whole record proves every log had its
//     set); cut after it, it is refused when core 1's log holds a whole
//     record after its start, and with nothing after core 1's start (the
//     logs a crash before core 0's generation_whole record leaves) the
//     start must go on.
//   mode 3, presence 5 and 6: [presence 1][zeros 1][rest...]: core 1's
//     log (5) or core 0's (6) is 1 to 256 zero bytes alone (what a crash
//     leaves when a file's size reaches the disk before its data), the
//     other log holds the rest after its start. The other log's
//     generation_whole record proves every log had its log set record:
//     the load must refuse, naming a log, whatever the rest.
#include "common.hh"

#include <ringkv/persist/format.hh>
#include <ringkv/persist/journal.hh>
#include <ringkv/persist/loader.hh>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ringkv::persist;
using ringkv::fuzz::input_reader;

// Re-encodes a record the reader accepted: the same bytes (one spelling).
void check_reencodes(const record& r, std::string_view header_and_body) {
    std::vector<char> again;
    switch (r.type) {
        case record_type::put:
            if (const auto d = decode_put(r.body)) append(*d, again); else return;
            break;
        case record_type::erase:
            if (const auto d = decode_erase(r.body)) append(*d, again); else return;
            break;
        case record_type::namespace_state:
            if (const auto d = decode_namespace_state(r.body)) append(*d, again); else return;
            break;
        case record_type::snapshot_meta:
            if (const auto d = decode_snapshot_meta(r.body)) append(*d, again); else return;
            break;
        case record_type::part:
            if (const auto d = decode_part(r.body)) append(*d, again); else return;
            break;
        case record_type::end:
            if (const auto d = decode_end(r.body)) append(*d, again); else return;
            break;
        case record_type::log_set:
            if (const auto d = decode_log_set(r.body)) append(*d, again); else return;
            break;
        case record_type::clock:
            if (const auto d = decode_clock(r.body)) append(*d, again); else return;
            break;
        case record_type::generation_whole:
            if (const auto d = decode_generation_whole(r.body)) append(*d, again); else return;
            break;
    }
    RINGKV_FUZZ_CHECK(std::string_view(again.data(), again.size()) == header_and_body, "a record re-encodes differently");
}

void walk(std::string_view bytes) {
    (void)check_file(bytes);
    if (!read_header(bytes).header) return;
    record_reader reader(bytes);
    std::uint64_t last = 0;
    for (;;) {
        const record_reader::status s = reader.next();
        RINGKV_FUZZ_CHECK(reader.offset() >= last && reader.offset() <= bytes.size(), "the reader went backwards or out");
        last = reader.offset();
        if (s != record_reader::status::record) return;
        const record& r = reader.current();
        RINGKV_FUZZ_CHECK(!r.body.empty() && r.body.data() >= bytes.data() &&
                          r.body.data() + r.body.size() <= bytes.data() + bytes.size());
        check_reencodes(r, bytes.substr(reader.offset(), record_header_bytes + r.body.size()));
    }
}

// A log of generation 1's start, as ringkv makes it whole: header, log set
// record, generation_whole record.
std::string made_start(unsigned core, unsigned cores) {
    const std::vector<char> start = log_start(1, core, {cores, 0});
    const std::vector<char> whole = log_whole(1);
    return std::string(start.data(), start.size()) + std::string(whole.data(), whole.size());
}

// A log of generation 1 as ringkv makes one, then `records`.
std::string log_with(std::string_view records, unsigned core = 0, unsigned cores = 1) {
    return made_start(core, cores) + std::string(records);
}

// A scratch directory for this process, made once.
const std::string& scratch() {
    static const std::string path = [] {
        char pattern[] = "/tmp/ringkv-fuzz-persist-XXXXXX";
        const char* made = mkdtemp(pattern);
        if (made == nullptr) ringkv::fuzz::finding("mkdtemp failed");
        return std::string(made);
    }();
    return path;
}

void write_log(unsigned core, const std::string& file) {
    const std::string path = scratch() + "/" + log_name(1, core);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    RINGKV_FUZZ_CHECK(fd >= 0);
    RINGKV_FUZZ_CHECK(::write(fd, file.data(), file.size()) == ssize_t(file.size()));
    ::close(fd);
}

// Loads the scratch directory; with `missing` (a log left out of its
// generation) the load must refuse naming it.
void load_and_apply(std::optional<unsigned> missing = std::nullopt) {
    load_result loaded = load(scratch(), 2);
    if (missing) {
        RINGKV_FUZZ_CHECK(loaded.error.find(log_name(1, *missing) + " is missing") != std::string::npos ||
                              loaded.error.find(log_name(1, 1 - *missing)) != std::string::npos,
                          "a missing log was not noticed: " + loaded.error);
        return;
    }
    if (!loaded.error.empty()) {
        RINGKV_FUZZ_CHECK(loaded.error.find(log_name(1, 0)) != std::string::npos ||
                              loaded.error.find(log_name(1, 1)) != std::string::npos,
                          loaded.error);
        return;
    }
    for (unsigned core = 0; core < 2; ++core) {
        ringkv::store::shard keys(1000, 64u << 20);
        ringkv::store::namespace_registry namespaces;
        const applied a = apply(loaded.state, core, keys, namespaces, {1000, 1'700'000'000}, 1'700'000'000'000);
        RINGKV_FUZZ_CHECK(a.error.empty() || keys.memory_bytes() <= keys.memory_bytes_max(), a.error);
    }
}

// Whether a log holds a whole record after its start (log set and
// generation_whole records).
bool holds_a_record(std::string_view log) {
    record_reader reader(log);
    return reader.next() == record_reader::status::record && reader.next() == record_reader::status::record &&
           reader.next() == record_reader::status::record;
}

bool names_a_log(const std::string& error) {
    return error.find(log_name(1, 0)) != std::string::npos || error.find(log_name(1, 1)) != std::string::npos;
}

// One log's start cut to `cut` bytes (short of whole), the other log whole
// with the rest of the input after its start.
void load_with_a_log_cut_short(input_reader& in, unsigned cut_core) {
    const std::string start = made_start(cut_core, 2);
    const std::size_t cut = in.choose(start.size());
    const std::string_view rest = in.rest();
    const std::string other = log_with(rest, 1 - cut_core, 2);
    write_log(1 - cut_core, other);
    write_log(cut_core, start.substr(0, cut));
    const load_result loaded = load(scratch(), 2);
    // Only core 0's log may lack its generation_whole record unnoticed: it
    // is written last, so a crash before it leaves logs like these.
    const bool ignorable = cut_core == 0 && cut >= log_start(1, 0, {2, 0}).size();
    if (!loaded.error.empty()) {
        RINGKV_FUZZ_CHECK(names_a_log(loaded.error), loaded.error);
        RINGKV_FUZZ_CHECK(!(ignorable && rest.empty()), "the logs a crash leaves were refused: " + loaded.error);
        return;
    }
    RINGKV_FUZZ_CHECK(ignorable, "a log cut short in a generation proven whole was ignored");
    RINGKV_FUZZ_CHECK(!holds_a_record(other), "a log cut short in a generation holding records was ignored");
}

// One log is zero bytes alone, the other whole with the rest of the input
// after its start.
void load_with_a_log_of_zeros(input_reader& in, unsigned zeroed_core) {
    const std::size_t zeros = 1 + in.choose(256);
    write_log(1 - zeroed_core, log_with(in.rest(), 1 - zeroed_core, 2));
    write_log(zeroed_core, std::string(zeros, '\0'));
    const load_result loaded = load(scratch(), 2);
    RINGKV_FUZZ_CHECK(names_a_log(loaded.error), "a log of zeros in a generation proven whole was not refused: " + loaded.error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input_reader in(data, size);
    const std::size_t mode = in.choose(4);
    if (mode == 3) {
        // 0: both, 1: core 0's left out, 2: core 1's, 3: 1's cut, 4: 0's
        // cut, 5: 1's zeros alone, 6: 0's.
        const std::size_t presence = in.choose(7);
        if (presence >= 5) {
            load_with_a_log_of_zeros(in, presence == 5 ? 1 : 0);
            return 0;
        }
        if (presence >= 3) {
            load_with_a_log_cut_short(in, presence == 3 ? 1 : 0);
            return 0;
        }
        const std::string_view rest = in.rest();
        const std::string_view first = rest.substr(0, rest.size() / 2), second = rest.substr(rest.size() / 2);
        ::unlink((scratch() + "/" + log_name(1, 0)).c_str());
        ::unlink((scratch() + "/" + log_name(1, 1)).c_str());
        if (presence != 1) write_log(0, log_with(first, 0, 2));
        if (presence != 2) write_log(1, log_with(second, 1, 2));
        load_and_apply(presence == 0 ? std::nullopt : std::optional<unsigned>(unsigned(presence - 1)));
        return 0;
    }
    const std::string_view rest = in.rest();
    if (mode == 0) {
        walk(rest);
    } else if (mode == 1) {
        walk(log_with(rest));
    } else {
        ::unlink((scratch() + "/" + log_name(1, 1)).c_str());
        write_log(0, log_with(rest));
        load_and_apply();
    }
    return 0;
}
