#include <ringkv/persist/loader.hh>

#include <ringkv/base/clock.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/persist/journal.hh>
#include <ringkv/store/sharding.hh>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ringkv::persist {
namespace {

// A file found in the directory, by what its name says.
struct found_file {
    std::string name;
    std::uint64_t generation = 0;
    unsigned core = 0;
};

struct directory_listing {
    std::map<std::uint64_t, found_file> snapshots;  // by generation
    std::map<std::uint64_t, std::vector<found_file>> logs;
    std::uint64_t generation_max = 0;
    std::string generation_max_name;  // a file that carries it
};

bool list_directory(const std::string& dir, directory_listing& out, std::string& error) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
        error = dir + ": " + std::strerror(errno);
        return false;
    }
    while (const dirent* entry = readdir(d)) {
        const std::optional<file_name> name = parse_file_name(entry->d_name);
        if (!name) continue;  // not ours: left alone
        // Every name of ours counts, temporaries too: this run's files never
        // take a name a file in the directory has.
        if (name->generation >= out.generation_max) {
            out.generation_max = name->generation;
            out.generation_max_name = entry->d_name;
        }
        if (name->temporary) continue;
        const found_file f{entry->d_name, name->generation, name->core};
        if (name->role == file_role::snapshot) out.snapshots[f.generation] = f;
        if (name->role == file_role::log) out.logs[f.generation].push_back(f);
    }
    closedir(d);
    return true;
}

// Opens one of ringkv's files to read (O_RDONLY) or truncate (O_WRONLY):
// a regular file only. A FIFO or device named like a log would block the
// start or worse, and a symlink would let the start read or cut a file
// elsewhere: O_NONBLOCK and O_NOFOLLOW, then fstat; -1 with `error` set.
int open_regular(const std::string& path, int access, struct stat& info, std::string& error) {
    const int fd = ::open(path.c_str(), access | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    const int opened_errno = errno;
    if (fd >= 0 && ::fstat(fd, &info) != 0) {
        error = path + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (fd < 0 && opened_errno != ELOOP) {
        error = path + ": " + std::strerror(opened_errno);
        return -1;
    }
    if (fd < 0 || !S_ISREG(info.st_mode)) {
        const char* what = fd < 0                    ? "a symbolic link"
                           : S_ISFIFO(info.st_mode) ? "a FIFO"
                           : S_ISDIR(info.st_mode)  ? "a directory"
                                                    : "not a regular file";
        error = path + ": " + what + "; ringkv reads only regular files in --data-dir (move it away)";
        if (fd >= 0) ::close(fd);
        return -1;
    }
    return fd;
}

// The whole file in memory (owned by state.files), or an error.
std::string read_file(const std::string& path, loaded_state& state, std::string_view& bytes) {
    struct stat info {};
    std::string error;
    const int fd = open_regular(path, O_RDONLY, info, error);
    if (fd < 0) return error;
    const auto size = std::size_t(info.st_size);
    auto buffer = std::make_unique_for_overwrite<char[]>(size + 1);
    std::size_t got = 0;
    while (got < size) {
        const ssize_t n = ::read(fd, buffer.get() + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = n < 0 ? std::strerror(errno) : "the file shrank while being read";
            ::close(fd);
            return path + ": " + why;
        }
        got += std::size_t(n);
    }
    ::close(fd);
    bytes = {buffer.get(), size};
    state.files.push_back(std::move(buffer));
    state.bytes += size;
    return {};
}

std::string at_offset(const std::string& path, std::uint64_t offset, const std::string& what) {
    return path + ": " + what + " at byte offset " + std::to_string(offset);
}

std::string check_header(const std::string& path, std::string_view bytes, file_kind kind, std::uint64_t generation,
                         std::uint32_t* version = nullptr) {
    const header_result h = read_header(bytes);
    if (!h.header) return at_offset(path, 0, h.error);
    if (h.header->kind != kind) return at_offset(path, 0, "the file header names another kind of file");
    if (h.header->generation != generation) return at_offset(path, 0, "the file header names another generation");
    if (version != nullptr) *version = h.header->version;
    return {};
}

// A clock record's lead, bounded: no file can move the clock past what
// the clock route allows (2106).
constexpr std::uint64_t clock_offset_ms_max = std::uint64_t(1) << 42;

// Prints progress on large loads, at most once a second.
class progress {
public:
    explicit progress(const std::string& dir) : _dir(dir), _start_ns(base::monotonic_ns()), _last_ns(_start_ns) {}
    void report(const loaded_state& state) {
        const std::uint64_t now = base::monotonic_ns();
        if (now - _last_ns < 1'000'000'000ull) return;
        _last_ns = now;
        const double seconds = double(now - _start_ns) / 1e9;
        std::fprintf(stderr, "ringkv: loading %s: %" PRIu64 " records, %.0f MB in %.1f s (%.0f MB/s)\n", _dir.c_str(),
                     state.records, double(state.bytes) / 1e6, seconds, double(state.bytes) / 1e6 / seconds);
    }
    double seconds() const { return double(base::monotonic_ns() - _start_ns) / 1e9; }

private:
    std::string _dir;
    std::uint64_t _start_ns;
    std::uint64_t _last_ns;
};

// The records a log begins with, before any change (its start): the log
// set record (from version 2 on), then the generation_whole record (from
// version 3 on).
enum class start_record { log_set, generation_whole };

const char* name_of(start_record r) { return r == start_record::log_set ? "log set" : "generation_whole"; }

// What the loader saw of one log.
struct log_seen {
    std::optional<log_set_record> set;  // its log set record
    std::uint32_t version = 0;          // of its header (0: too short to have one)
    bool whole = false;                 // holds its generation_whole record
    bool holds_records = false;         // records after its start
    // Where it ends, when that is before a record of its start its
    // version needs (ends_before); nullopt when its start is whole.
    std::optional<std::uint64_t> unstarted_at;
    start_record ends_before = start_record::log_set;
    // Its size, when it holds nothing but zero bytes (then unstarted_at is
    // 0: nothing of its start is there); 0 otherwise.
    std::uint64_t zero_bytes = 0;
};

// The bytes a log's start takes when its generation's logs are made (its
// header, log set record and generation_whole record): the most a crash
// in the making can leave written.
std::size_t made_start_bytes(std::uint64_t generation) {
    return log_start(generation, 0, log_set_record{}).size() + log_whole(generation).size();
}

// What one file contributes; records are also dispatched to their owners.
class file_loader {
public:
    file_loader(loaded_state& state, unsigned cores) : _state(state), _cores(cores) {}

    // A log: its log set (in seen.set, when it has one), namespace states,
    // key changes and clock records; a torn tail is cut off. A log that
    // ends before its start is whole (shorter than its header, a header
    // alone, a log set or generation_whole record missing or cut short) is
    // not read or cut: whether that is a creation a crash cut short or a
    // log that lost its records depends on its generation (load() decides;
    // seen.unstarted_at). So is a log of zero bytes alone: the file's size
    // reached the disk, its data did not (the making of its generation
    // caught by a crash, as its start was written); nothing of its start
    // is there. Only zeros from the first byte to the last, and no more of
    // them than a whole start: records are appended only once every log
    // of the generation has its start on the disk, so a longer file of
    // zeros lost data that was there (read, and refused as no header).
    // A header with any other byte is read, and refused if it is not one.
    std::string load_log(const std::string& path, std::uint64_t generation, log_seen& seen) {
        std::string_view bytes;
        if (std::string e = read_file(path, _state, bytes); !e.empty()) return e;
        if (!bytes.empty() && bytes.size() <= made_start_bytes(generation) &&
            bytes.find_first_not_of('\0') == std::string_view::npos) {
            seen.unstarted_at = 0;
            seen.zero_bytes = bytes.size();
            return {};
        }
        if (bytes.size() < file_header_bytes) {
            seen.unstarted_at = bytes.size();
            return {};
        }
        if (std::string e = check_header(path, bytes, file_kind::log, generation, &seen.version); !e.empty()) return e;
        // The records of its start its version needs, in order.
        std::vector<start_record> start;
        if (seen.version >= format_version_log_set) start.push_back(start_record::log_set);
        if (seen.version >= format_version_generation_whole) start.push_back(start_record::generation_whole);
        record_reader reader(bytes);
        for (std::size_t index = 0;; ++index) {
            const record_reader::status s = reader.next();
            const bool in_start = index < start.size();  // a record of the start belongs here
            const start_record expected = in_start ? start[index] : start_record::log_set;
            if (in_start && s != record_reader::status::record && s != record_reader::status::damaged) {
                seen.unstarted_at = bytes.size();
                seen.ends_before = expected;
                return {};
            }
            if (s == record_reader::status::end) return {};
            if (s == record_reader::status::torn) return truncate(path, reader.offset(), bytes.size());
            if (s == record_reader::status::damaged) return at_offset(path, reader.offset(), "a record fails its checksum");
            const record& r = reader.current();
            if (r.type == record_type::log_set) {
                seen.set = decode_log_set(r.body);
                if (!seen.set || index != 0 || seen.set->cores > limits::cores_max || seen.set->follows >= generation) {
                    return at_offset(path, reader.offset(), "a bad log set record");
                }
                continue;
            }
            if (r.type == record_type::generation_whole) {
                const auto whole = decode_generation_whole(r.body);
                if (!whole || !in_start || expected != start_record::generation_whole || whole->generation != generation) {
                    return at_offset(path, reader.offset(), "a bad generation_whole record");
                }
                seen.whole = true;
                continue;
            }
            if (in_start && expected == start_record::log_set) {
                return at_offset(path, reader.offset(), "the log does not begin with its log set record");
            }
            if (in_start) {
                return at_offset(path, reader.offset(), "its log set record is not followed by its generation_whole record");
            }
            seen.holds_records = true;
            if (r.type == record_type::clock) {
                if (std::string e = take_clock(path, reader); !e.empty()) return e;
            } else if (std::string e = take(path, reader, false); !e.empty()) {
                return e;
            }
        }
    }

    // The snapshot (its list of parts, its namespaces, its generation's
    // log set when it has one: `set`) and each part.
    std::string load_snapshot(const std::string& dir, const found_file& f, std::optional<log_set_record>& set) {
        const std::string path = dir + "/" + f.name;
        std::string_view bytes;
        if (std::string e = read_file(path, _state, bytes); !e.empty()) return e;
        if (std::string e = check_header(path, bytes, file_kind::snapshot, f.generation); !e.empty()) return e;
        std::vector<part_record> parts;
        std::uint64_t records = 0;
        record_reader reader(bytes);
        bool saw_meta = false;
        for (;;) {
            const record_reader::status s = reader.next();
            if (s == record_reader::status::end) return at_offset(path, reader.offset(), "the snapshot ends before its end record");
            if (s != record_reader::status::record) return at_offset(path, reader.offset(), "a record fails its checksum or is cut short");
            const record& r = reader.current();
            if (r.type == record_type::end) {
                const auto end = decode_end(r.body);
                if (!end || end->records != records) return at_offset(path, reader.offset(), "the end record does not match the records before it");
                if (reader.next() != record_reader::status::end) return at_offset(path, reader.offset(), "bytes after the end record");
                break;
            }
            ++records;
            if (r.type == record_type::snapshot_meta) {
                const auto meta = decode_snapshot_meta(r.body);
                if (!meta || saw_meta) return at_offset(path, reader.offset(), "a bad snapshot header record");
                saw_meta = true;
                _state.next_namespace_number = std::max(_state.next_namespace_number, meta->next_namespace_number);
            } else if (r.type == record_type::part) {
                const auto part = decode_part(r.body);
                if (!part) return at_offset(path, reader.offset(), "a bad part record");
                parts.push_back(*part);
            } else if (r.type == record_type::namespace_state) {
                if (std::string e = take(path, reader, true); !e.empty()) return e;
            } else if (r.type == record_type::log_set) {
                set = decode_log_set(r.body);
                if (!set || set->cores > limits::cores_max || set->follows >= f.generation) {
                    return at_offset(path, reader.offset(), "a bad log set record");
                }
            } else if (r.type == record_type::clock) {
                if (std::string e = take_clock(path, reader); !e.empty()) return e;
            } else {
                return at_offset(path, reader.offset(), "a record that does not belong in a snapshot");
            }
        }
        if (!saw_meta) return at_offset(path, file_header_bytes, "no snapshot header record");
        for (const part_record& part : parts) {
            if (std::string e = load_part(dir, f.generation, part); !e.empty()) return e;
        }
        return {};
    }

private:
    std::string load_part(const std::string& dir, std::uint64_t generation, const part_record& part) {
        const std::string path = dir + "/" + part_name(generation, part.core);
        std::string_view bytes;
        if (std::string e = read_file(path, _state, bytes); !e.empty()) return e;
        if (bytes.size() != part.bytes) {
            return path + ": " + std::to_string(bytes.size()) + " bytes, but the snapshot lists " +
                   std::to_string(part.bytes);
        }
        if (std::string e = check_header(path, bytes, file_kind::snapshot_part, generation); !e.empty()) return e;
        std::uint64_t records = 0;
        record_reader reader(bytes);
        for (;;) {
            const record_reader::status s = reader.next();
            if (s != record_reader::status::record) return at_offset(path, reader.offset(), "a record fails its checksum or is cut short");
            if (reader.current().type == record_type::end) {
                const auto end = decode_end(reader.current().body);
                if (!end || end->records != records || records != part.records) {
                    return at_offset(path, reader.offset(), "the end record does not match the records before it");
                }
                if (reader.next() != record_reader::status::end) return at_offset(path, reader.offset(), "bytes after the end record");
                return {};
            }
            if (reader.current().type != record_type::put) return at_offset(path, reader.offset(), "a record that does not belong in a snapshot part");
            ++records;
            if (std::string e = take(path, reader, false); !e.empty()) return e;
        }
    }

    std::string take_clock(const std::string& path, const record_reader& reader) {
        const auto clock = decode_clock(reader.current().body);
        if (!clock || clock->offset_ms > clock_offset_ms_max) return at_offset(path, reader.offset(), "a bad clock record");
        _state.clock_offset_ms = std::max(_state.clock_offset_ms, clock->offset_ms);
        return {};
    }

    // One whole record: checked, and kept in the state.
    std::string take(const std::string& path, const record_reader& reader, bool namespaces_only) {
        const record& r = reader.current();
        ++_state.records;
        if (r.type == record_type::namespace_state) {
            const auto n = decode_namespace_state(r.body);
            if (!n || n->number == 0 || n->number == UINT32_MAX) return at_offset(path, reader.offset(), "a bad namespace record");
            // An id names one namespace, with one number, for good.
            const auto [known, first] = _numbers_by_id.emplace(std::pair(n->id.high, n->id.low), n->number);
            if (!first && known->second != n->number) {
                return at_offset(path, reader.offset(), "a namespace id recorded under two numbers");
            }
            _state.namespaces[n->number] = *n;
            _state.next_namespace_number = std::max(_state.next_namespace_number, n->number + 1);
            return {};
        }
        if (namespaces_only) return at_offset(path, reader.offset(), "a key record where only namespaces belong");
        std::uint32_t number = 0;
        std::string_view key;
        if (r.type == record_type::put) {
            const auto put = decode_put(r.body);
            if (!put || put->key.size() > store::item::key_bytes_max || put->value.size() > store::item::value_bytes_max ||
                put->content_type.size() > store::item::content_type_bytes_max) {
                return at_offset(path, reader.offset(), "a bad key record");
            }
            number = put->namespace_number;
            key = put->key;
        } else if (r.type == record_type::erase) {
            const auto erase = decode_erase(r.body);
            if (!erase) return at_offset(path, reader.offset(), "a bad key record");
            number = erase->namespace_number;
            key = erase->key;
        } else {
            return at_offset(path, reader.offset(), "a record that does not belong in a log");
        }
        const std::uint64_t hash = store::key_hash(number, key);
        if (!_state.changes.empty()) {
            _state.changes[store::shard_of(hash, _cores)].push_back(
                {hash, key_prefix_of(key), r.body, key, _state.records, number, r.type == record_type::erase});
        }
        return {};
    }

    std::string truncate(const std::string& path, std::uint64_t offset, std::uint64_t size) {
        struct stat info {};
        std::string error;
        const int fd = open_regular(path, O_WRONLY, info, error);
        if (fd < 0) return error;
        const bool cut = ::ftruncate(fd, off_t(offset)) == 0;
        const int cut_errno = errno;
        ::close(fd);
        if (!cut) {
            return path + ": the last record is cut short at byte offset " + std::to_string(offset) +
                   " and truncating it there failed: " + std::strerror(cut_errno);
        }
        std::fprintf(stderr,
                     "ringkv: %s: the last record is cut short at byte offset %" PRIu64
                     " (a crash during a write); truncated there, %" PRIu64 " bytes dropped\n",
                     path.c_str(), offset, size - offset);
        return {};
    }

    loaded_state& _state;
    unsigned _cores;
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint32_t> _numbers_by_id;
};

}  // namespace

std::string snapshot_name(std::uint64_t generation) {
    char name[64];
    std::snprintf(name, sizeof(name), "snapshot-%016" PRIx64 ".rkv", generation);
    return name;
}

std::string part_name(std::uint64_t generation, unsigned core) {
    char name[64];
    std::snprintf(name, sizeof(name), "snapshot-%016" PRIx64 "-%03u.part", generation, core);
    return name;
}

std::string log_name(std::uint64_t generation, unsigned core) {
    char name[64];
    std::snprintf(name, sizeof(name), "log-%016" PRIx64 "-%03u.rkv", generation, core);
    return name;
}

namespace {

// "0123456789abcdef" (exactly 16 hex digits) at the front of `text`.
std::optional<std::uint64_t> take_generation(std::string_view& text) {
    constexpr std::size_t digits = 16;
    std::uint64_t generation = 0;
    if (text.size() < digits) return std::nullopt;
    const auto [end, error] = std::from_chars(text.data(), text.data() + digits, generation, 16);
    if (error != std::errc() || end != text.data() + digits) return std::nullopt;
    text.remove_prefix(digits);
    return generation;
}

// "-007" (a dash and decimal digits) at the front of `text`.
std::optional<unsigned> take_core(std::string_view& text) {
    if (!text.starts_with('-')) return std::nullopt;
    text.remove_prefix(1);
    unsigned core = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), core, 10);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(std::size_t(end - text.data()));
    return core;
}

}  // namespace

std::optional<file_name> parse_file_name(std::string_view name) {
    const std::string_view whole = name;
    file_name parsed;
    parsed.temporary = name.ends_with(".tmp");
    if (parsed.temporary) name.remove_suffix(4);
    const bool log = name.starts_with("log-");
    if (!log && !name.starts_with("snapshot-")) return std::nullopt;
    name.remove_prefix(log ? 4 : 9);
    const std::optional<std::uint64_t> generation = take_generation(name);
    if (!generation) return std::nullopt;
    parsed.generation = *generation;
    std::optional<unsigned> core;
    if (!name.starts_with('.')) {
        core = take_core(name);
        if (!core) return std::nullopt;
        parsed.core = *core;
    }
    std::string canonical;
    if (log && core && name == ".rkv") {
        parsed.role = file_role::log;
        canonical = log_name(parsed.generation, parsed.core);
    } else if (!log && core && name == ".part") {
        parsed.role = file_role::part;
        canonical = part_name(parsed.generation, parsed.core);
    } else if (!log && !core && name == ".rkv") {
        parsed.role = file_role::snapshot;
        canonical = snapshot_name(parsed.generation);
    } else {
        return std::nullopt;
    }
    // One spelling per file: no upper-case hex, no extra zeros, no sign.
    if (parsed.temporary) canonical += ".tmp";
    if (canonical != whole) return std::nullopt;
    if (parsed.temporary && parsed.role == file_role::log) return std::nullopt;  // logs are never temporaries
    return parsed;
}

std::uint64_t key_prefix_of(std::string_view key) {
    std::uint64_t prefix = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        prefix = (prefix << 8) | (i < key.size() ? std::uint8_t(key[i]) : 0);
    }
    return prefix;
}

std::uint64_t wall_ms() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return std::uint64_t(now.tv_sec) * 1000 + std::uint64_t(now.tv_nsec) / 1'000'000;
}

namespace {

std::string missing(const std::string& dir, std::uint64_t generation, unsigned core, const std::string& why) {
    return dir + "/" + log_name(generation, core) + " is missing: " + why +
           "; the changes it held would be lost (put it back, or remove its whole generation to start without them)";
}

// A log that ends before its start is whole (before its log set record,
// from version 2 on, or its generation_whole record, from version 3 on):
// a crash while its generation's logs were being made leaves such logs,
// and they hold nothing; but once every log of the generation had that
// record durable (see generation_loader for the proofs), one that lacks
// it lost what it held.
struct unstarted_log {
    std::string path;
    std::uint64_t size = 0;  // where what it holds of its start ends
    start_record ends_before = start_record::log_set;
    std::uint64_t zero_bytes = 0;  // its size, when it holds only zeros
};

std::string cut_short(const unstarted_log& log, const std::string& proof) {
    const std::string what =
        log.zero_bytes != 0
            ? "holds only zero bytes (" + std::to_string(log.zero_bytes) +
                  "), from byte offset 0, where its header and log set record belong"
            : "cut short at byte offset " + std::to_string(log.size) + ", before its " + name_of(log.ends_before) +
                  " record";
    return log.path + ": " + what + ", though " + proof +
           "; the changes it held would be lost (put it back, or remove its whole generation to start without them)";
}

// The line that says a log of a generation a crash caught being made is
// ignored.
void say_ignored(const unstarted_log& log) {
    if (log.zero_bytes != 0) {
        std::fprintf(stderr,
                     "ringkv: %s: holds nothing: its %" PRIu64
                     " bytes are all zero (its size reached the disk before its data: a crash as its generation's "
                     "logs were made); ignored\n",
                     log.path.c_str(), log.zero_bytes);
        return;
    }
    std::fprintf(stderr,
                 "ringkv: %s: holds nothing: it ends at byte offset %" PRIu64
                 ", before its start was written (a crash as its generation's logs were made); ignored\n",
                 log.path.c_str(), log.size);
}

// The logs found of one generation against the set they (or the snapshot)
// name: every one of its logs, and the generation they follow.
std::string check_log_set(const std::string& dir, std::uint64_t generation, const std::vector<found_file>& files,
                          const log_set_record& set, const std::string& named_by, const directory_listing& listing,
                          std::uint64_t first_log_generation) {
    std::vector<bool> present(set.cores, false);
    for (const found_file& f : files) {
        if (f.core >= set.cores) {
            return dir + "/" + f.name + ": not one of the " + std::to_string(set.cores) + " logs " + named_by + " names";
        }
        present[f.core] = true;
    }
    for (unsigned core = 0; core < set.cores; ++core) {
        if (!present[core]) {
            return missing(dir, generation, core,
                           named_by + " names " + std::to_string(set.cores) +
                               " logs of its generation, all created before any was written");
        }
    }
    if (set.follows != 0 && set.follows >= first_log_generation && !listing.logs.contains(set.follows)) {
        return missing(dir, set.follows, 0, "its generation's logs come before " + named_by + "'s");
    }
    return {};
}

// The logs from the snapshot's generation on, read generation by generation
// (in order) and checked against the log set they, or the snapshot, name.
class generation_loader {
public:
    generation_loader(const std::string& dir, const directory_listing& listing, file_loader& files, loaded_state& state,
                      progress& shown, std::uint64_t first_log_generation,
                      const std::optional<log_set_record>& snapshot_logs, const std::string& snapshot_path)
        : _dir(dir),
          _listing(listing),
          _files(files),
          _state(state),
          _shown(shown),
          _first_log_generation(first_log_generation),
          _snapshot_logs(snapshot_logs),
          _snapshot_path(snapshot_path) {}

    // One generation's logs; "" or why the start is refused.
    std::string load(std::uint64_t generation, const std::vector<found_file>& logs) {
        seen_generation seen;
        if (std::string e = read(generation, logs, seen); !e.empty()) return e;
        if (generation == _first_log_generation && _snapshot_logs) {
            if (seen.set && seen.set->cores != _snapshot_logs->cores) {
                return seen.named_by + ": its log set record differs from that of " + _snapshot_path;
            }
            seen.set = _snapshot_logs;
            seen.named_by = _snapshot_path;
            seen.proven(_snapshot_path + " names the logs of its generation, made before it", true);
        }
        if (seen.set) {
            const log_set_record& set = *seen.set;
            if (std::string e = check_log_set(_dir, generation, logs, set, seen.named_by, _listing, _first_log_generation);
                !e.empty()) {
                return e;
            }
            if (const auto before = _unproven.find(set.follows); before != _unproven.end()) {
                return cut_short(before->second, seen.named_by + " names its generation as the one its logs follow");
            }
        }
        const std::optional<unstarted_log>& unstarted = seen.short_of_set ? seen.short_of_set : seen.short_of_whole;
        if (seen.short_of_set && !seen.sets_made.empty() && !seen.version_1) {
            return cut_short(*seen.short_of_set, seen.sets_made);
        }
        if (seen.short_of_whole && !seen.whole_made.empty()) return cut_short(*seen.short_of_whole, seen.whole_made);
        if (unstarted && !seen.version_1) _unproven.emplace(generation, *unstarted);
        if (unstarted) say_ignored(*unstarted);
        // A generation a crash caught being made holds nothing, and the
        // next logs do not follow it.
        const bool unproven = unstarted && !seen.version_1;
        if ((seen.set || seen.version_1) && !unproven) _state.log_generation = generation;
        return {};
    }

private:
    // What the logs of one generation showed. Its logs are made in steps
    // (journal.hh, log_start): every log's log set record is durable
    // before any generation_whole record is written, core 0's
    // generation_whole record is written once every other log's is
    // durable, and any other record only after that. So a generation_whole
    // record in any log proves that every log has its log set record; one
    // in core 0's log, or a record after the start of any log, proves that
    // every log has its generation_whole record too (a record in a version
    // 2 log, which has none, proves the first). So do the snapshot that
    // names the generation's logs (made before its cut) and a later log
    // set that follows the generation (a run follows only logs it made,
    // or loaded as whole).
    struct seen_generation {
        std::optional<log_set_record> set;  // the log set its logs name
        std::string named_by;               // the first log (or the snapshot) that names it
        bool version_1 = false;             // logs of version 1 name no set
        std::uint32_t version = 0;          // of its first log with a header
        std::string version_of;             // that log
        // The first of its logs that ends before its log set record, and
        // the first that ends after it, before its generation_whole record.
        std::optional<unstarted_log> short_of_set;
        std::optional<unstarted_log> short_of_whole;
        // What proves that every log of the generation has its log set
        // record, and its generation_whole record ("": nothing).
        std::string sets_made;
        std::string whole_made;

        void proven(const std::string& proof, bool whole) {
            if (sets_made.empty()) sets_made = proof;
            if (whole && whole_made.empty()) whole_made = proof;
        }
        // What one log proves of its generation's making (the first proof
        // found is the one a refusal names: records, the most direct, first).
        void note_proofs(const log_seen& log, const std::string& path, unsigned core) {
            if (log.set && log.holds_records) {
                const char* last_start_record = log.whole ? "generation_whole" : "log set";
                proven(path + " holds records, and records are written only once every log of the generation has its " +
                           last_start_record + " record",
                       true);
            }
            if (log.whole && core == 0) {
                proven(path + " holds its generation_whole record, written last of its generation's, once every "
                              "other log has its own",
                       true);
            } else if (log.whole) {
                proven(path + " holds its generation_whole record, written only once every log of the generation "
                              "has its log set record",
                       false);
            }
        }
    };

    std::string read(std::uint64_t generation, const std::vector<found_file>& logs, seen_generation& seen) {
        for (const found_file& f : logs) {
            log_seen log;
            const std::string path = _dir + "/" + f.name;
            if (std::string e = _files.load_log(path, generation, log); !e.empty()) return e;
            if (log.version != 0 && seen.version == 0) {
                seen.version = log.version;
                seen.version_of = path;
            } else if (log.version != 0 && log.version != seen.version) {
                return path + ": its format version (" + std::to_string(log.version) + ") differs from that of " +
                       seen.version_of + " (" + std::to_string(seen.version) + "), of the same generation";
            }
            seen.version_1 = seen.version_1 || log.version == 1;
            if (log.unstarted_at) {
                std::optional<unstarted_log>& first =
                    log.ends_before == start_record::log_set ? seen.short_of_set : seen.short_of_whole;
                if (!first) first = unstarted_log{path, *log.unstarted_at, log.ends_before, log.zero_bytes};
            }
            seen.note_proofs(log, path, f.core);
            if (log.set && seen.set && (log.set->cores != seen.set->cores || log.set->follows != seen.set->follows)) {
                return path + ": its log set record differs from that of " + seen.named_by;
            }
            if (log.set && !seen.set) {
                seen.set = log.set;
                seen.named_by = path;
            }
            _shown.report(_state);
        }
        return {};
    }

    const std::string& _dir;
    const directory_listing& _listing;
    file_loader& _files;
    loaded_state& _state;
    progress& _shown;
    const std::uint64_t _first_log_generation;
    const std::optional<log_set_record>& _snapshot_logs;
    const std::string& _snapshot_path;
    // Generations a crash may have caught being made: a log of theirs ends
    // before its log set record and nothing (yet) proves that all were
    // made. They hold nothing; a later log set that follows one proves it
    // was made whole, and its unstarted log damaged.
    std::map<std::uint64_t, unstarted_log> _unproven;
};

}  // namespace

load_result load(const std::string& dir, unsigned cores) {
    load_result result;
    loaded_state& state = result.state;
    state.changes.resize(cores);
    directory_listing listing;
    if (!list_directory(dir, listing, result.error)) return result;
    state.generation_max = listing.generation_max;
    if (listing.generation_max > generation_max_allowed) {
        // This run's generations follow it, and would wrap round to 0 onto
        // the names of older files.
        result.error = dir + "/" + listing.generation_max_name + ": generation " +
                       std::to_string(listing.generation_max) + " is past the largest ringkv counts to (" +
                       std::to_string(generation_max_allowed) +
                       "), so the generations after it would wrap round to 0; a file ringkv did not write? Move it "
                       "away";
        return result;
    }
    progress shown(dir);
    file_loader loader(state, cores);
    std::uint64_t first_log_generation = 0;
    std::optional<log_set_record> snapshot_logs;
    std::string snapshot_path;
    if (!listing.snapshots.empty()) {
        const found_file& newest = listing.snapshots.rbegin()->second;
        result.error = loader.load_snapshot(dir, newest, snapshot_logs);
        if (!result.error.empty()) return result;
        first_log_generation = newest.generation;
        snapshot_path = dir + "/" + newest.name;
        shown.report(state);
        if (snapshot_logs && !listing.logs.contains(newest.generation)) {
            result.error = missing(dir, newest.generation, 0, snapshot_path + " names the logs of its generation");
            return result;
        }
    }
    generation_loader logs(dir, listing, loader, state, shown, first_log_generation, snapshot_logs, snapshot_path);
    for (auto it = listing.logs.lower_bound(first_log_generation); it != listing.logs.end(); ++it) {
        result.error = logs.load(it->first, it->second);
        if (!result.error.empty()) return result;
    }
    state.seconds = shown.seconds();
    return result;
}

std::string check_file(std::string_view bytes) {
    loaded_state state;
    const header_result h = read_header(bytes);
    if (!h.header) return h.error;
    record_reader reader(bytes);
    for (;;) {
        const record_reader::status s = reader.next();
        if (s == record_reader::status::end || s == record_reader::status::torn) return {};
        if (s == record_reader::status::damaged) return "damaged at " + std::to_string(reader.offset());
        const record& r = reader.current();
        switch (r.type) {
            case record_type::put: if (!decode_put(r.body)) return "bad put"; break;
            case record_type::erase: if (!decode_erase(r.body)) return "bad erase"; break;
            case record_type::namespace_state: if (!decode_namespace_state(r.body)) return "bad namespace"; break;
            case record_type::snapshot_meta: if (!decode_snapshot_meta(r.body)) return "bad meta"; break;
            case record_type::part: if (!decode_part(r.body)) return "bad part"; break;
            case record_type::end: if (!decode_end(r.body)) return "bad end"; break;
            case record_type::log_set: if (!decode_log_set(r.body)) return "bad log set"; break;
            case record_type::clock: if (!decode_clock(r.body)) return "bad clock"; break;
            case record_type::generation_whole: if (!decode_generation_whole(r.body)) return "bad generation_whole"; break;
        }
    }
}

namespace {

// This process's monotonic milliseconds for a wall-clock instant; instants
// already past map to 0 (long ago).
std::uint64_t monotonic_of(std::uint64_t at_wall_ms, store::instant now, std::uint64_t wall_ms_now) {
    constexpr std::uint64_t ahead_ms_max = std::uint64_t(1) << 40;  // no overflow, whatever a file says
    if (at_wall_ms <= wall_ms_now) return now.monotonic_ms > wall_ms_now - at_wall_ms ? now.monotonic_ms - (wall_ms_now - at_wall_ms) : 0;
    return now.monotonic_ms + std::min(at_wall_ms - wall_ms_now, ahead_ms_max);
}

bool gone(const namespace_state_record& n, std::uint64_t wall_ms_now) {
    return n.deleting && n.deleted_at_wall_ms <= wall_ms_now;
}

// Keys whose first 8 bytes agree: their order, read from the keys only
// when both are longer than that (up to 8 bytes, the prefixes hold the
// keys whole, padded with zeros, so the shorter is a prefix of the other).
int compare_rest(const key_change& a, const key_change& b) {
    if (a.key.size() <= 8 || b.key.size() <= 8) return a.key.size() < b.key.size() ? -1 : a.key.size() > b.key.size() ? 1 : 0;
    return a.key.substr(8).compare(b.key.substr(8));
}

// By namespace and key (bytes as unsigned, as the ordered index compares
// them), then in the order the changes were made.
bool key_order(const key_change& a, const key_change& b) {
    if (a.namespace_number != b.namespace_number) return a.namespace_number < b.namespace_number;
    if (a.key_prefix != b.key_prefix) return a.key_prefix < b.key_prefix;
    if (const int rest = compare_rest(a, b); rest != 0) return rest < 0;
    return a.sequence < b.sequence;
}

// How many changes ahead apply() prefetches (a record and its table slot).
constexpr std::size_t prefetch_distance = 16;

bool same_key(const key_change& a, const key_change& b) {
    return a.namespace_number == b.namespace_number && a.key_prefix == b.key_prefix && compare_rest(a, b) == 0;
}

}  // namespace

applied apply(loaded_state& state, unsigned core, store::shard& keys, store::namespace_registry& namespaces,
              store::instant now, std::uint64_t wall_ms_now) {
    applied result;
    for (const auto& [number, n] : state.namespaces) {
        if (gone(n, wall_ms_now)) continue;
        store::namespace_record r;
        r.id = n.id;
        r.number = n.number;
        r.name = std::string(n.name);
        r.organization = std::string(n.organization);
        r.ttl_support = n.ttl_support;
        r.created_at_s = n.created_at_s;
        r.provisioned_at_s = n.provisioned_at_s;
        r.provisioned_at_ms = monotonic_of(n.provisioned_at_wall_ms, now, wall_ms_now);
        r.deleting = n.deleting;
        r.delete_requested_at_s = n.delete_requested_at_s;
        r.deleted_at_ms = monotonic_of(n.deleted_at_wall_ms, now, wall_ms_now);
        namespaces.insert(r);
    }
    // The changes come sorted by namespace: one look-up per namespace.
    std::uint32_t looked_up = 0;
    bool looked_up_live = false;
    const auto live = [&](std::uint32_t number) {
        if (number != looked_up) {
            const auto it = state.namespaces.find(number);
            looked_up = number;
            looked_up_live = it != state.namespaces.end() && !it->second.deleting;
        }
        return looked_up_live;
    };
    std::vector<key_change>& mine = state.changes[core];
    std::sort(mine.begin(), mine.end(), key_order);
    // Only the last change of each key decides it. Sizing the key table for
    // the keys put last, before any goes in, spares the load every growth.
    std::size_t puts = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
        if (!mine[i].erase && (i + 1 == mine.size() || !same_key(mine[i], mine[i + 1]))) ++puts;
    }
    keys.reserve(puts);
    for (std::size_t i = 0; i < mine.size(); ++i) {
        // The sorted changes point all over the files and the table: load
        // what a later iteration needs while this one works.
        if (i + prefetch_distance < mine.size()) {
            const key_change& later = mine[i + prefetch_distance];
            for (std::size_t line = 0; line < later.body.size(); line += 64) __builtin_prefetch(later.body.data() + line);
            keys.prefetch(later.hash);
        }
        const key_change& change = mine[i];
        if (i + 1 < mine.size() && same_key(change, mine[i + 1])) continue;  // a later change replaces it
        if (change.erase) {
            if (live(change.namespace_number)) keys.erase(change.hash, change.namespace_number, change.key);
            continue;
        }
        const auto put = decode_put(change.body);
        if (!live(put->namespace_number)) continue;
        if (put->expires_at_wall_ms != 0 && put->expires_at_wall_ms <= wall_ms_now) {  // expired while down
            keys.erase(change.hash, put->namespace_number, put->key);
            continue;
        }
        // Clamped so that no time in a file can overflow the monotonic clock.
        constexpr std::uint64_t ttl_ms_max = std::uint64_t(1) << 40;  // 35 years
        const std::uint64_t ttl_ms =
            put->expires_at_wall_ms == 0 ? 0 : std::min(put->expires_at_wall_ms - wall_ms_now, ttl_ms_max);
        const store::instant written{now.monotonic_ms, put->updated_at_s};
        if (keys.put(change.hash, put->namespace_number, put->key, put->value, put->content_type, ttl_ms, written) ==
            store::shard::put_result::memory_full) {
            result.error = "the stored keys do not fit this core's share of --max-memory";
            return result;
        }
    }
    result.keys = keys.size();
    return result;
}

}  // namespace ringkv::persist
