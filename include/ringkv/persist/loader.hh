#pragma once
// Start-up: what --data-dir holds, read back.
//
// The directory holds generations. Snapshot G (snapshot-G.rkv, listing its
// part files snapshot-G-CORE.part) is the state at the cut that began G; log
// files log-G-CORE.rkv hold the changes each core made from that cut on (one
// log per core of the run that wrote it). A new run writes logs of a new
// generation, so a generation never spans two runs and, within one, each key
// is in one core's log.
//
// Loading: the newest snapshot, then the logs of its generation and later,
// in generation order. Every file is checked whole first (headers, record
// checks, the snapshot's counts); any damage stops the start naming the file
// and byte offset. The one expected damage is a log whose last record was
// cut by a crash: it is truncated at the last whole record, with a line on
// stderr.
//
// The result is then applied on each core (apply()), in parallel: every
// core takes all namespaces (each holds a replica) and the keys it owns
// under this run's hash and core count.

#include <ringkv/persist/format.hh>
#include <ringkv/store/namespaces.hh>
#include <ringkv/store/shard.hh>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::persist {

// File names in the directory (generation as 16 hex digits, core as 3).
std::string snapshot_name(std::uint64_t generation);
std::string part_name(std::uint64_t generation, unsigned core);
std::string log_name(std::uint64_t generation, unsigned core);

// What a name in the directory says, when it is exactly one that ringkv
// writes (one of the names above, or one of them with ".tmp" after it: a
// file being written). The one parser of names: the loader reads only
// what it accepts and the cleanup after a snapshot removes only what it
// accepts, so a file a person left beside them (`snapshot-1.bak`,
// `log-...rkv.orig`) is never read and never removed.
enum class file_role { snapshot, part, log };
struct file_name {
    file_role role = file_role::snapshot;
    std::uint64_t generation = 0;
    unsigned core = 0;       // of a part or a log
    bool temporary = false;  // ".tmp": being written, never read
};
std::optional<file_name> parse_file_name(std::string_view name);

// A put or erase for one core to apply; body points into the loaded files'
// bytes. apply() sorts a core's changes by key: key_prefix (the key's first
// 8 bytes, big-endian, zero-padded) orders almost every pair without
// reading the key itself, which lies somewhere in 100 MB of files (a cache
// miss per comparison), and sequence keeps each key's changes in the order
// they were made.
struct key_change {
    std::uint64_t hash = 0;
    std::uint64_t key_prefix = 0;
    std::string_view body;
    std::string_view key;  // inside body
    std::uint64_t sequence = 0;  // the order the changes were made in (load order)
    std::uint32_t namespace_number = 0;
    bool erase = false;  // an erase record (else a put)
};
// key_change::key_prefix of a key.
std::uint64_t key_prefix_of(std::string_view key);

struct loaded_state {
    // The files' bytes; every view below points into them.
    std::vector<std::unique_ptr<char[]>> files;
    // Each namespace's last state, by number (creation order).
    std::map<std::uint32_t, namespace_state_record> namespaces;
    std::uint32_t next_namespace_number = 1;
    // The newest generation any file carries; this run writes a later one.
    std::uint64_t generation_max = 0;
    // The newest generation whose logs were loaded (0: none): the one this
    // run's logs follow (log_set_record::follows).
    std::uint64_t log_generation = 0;
    // The virtual clock's lead when the files were written (the largest
    // clock record): restored before the keys, whose times are on it.
    std::uint64_t clock_offset_ms = 0;
    // Per core of this run, the key changes it owns, in the order to apply.
    std::vector<std::vector<key_change>> changes;
    std::uint64_t bytes = 0;
    std::uint64_t records = 0;
    double seconds = 0;
};

// The newest generation a file in the directory may carry. A run's logs
// and snapshots take the generations after the newest one found, which must
// never wrap round to 0 (onto older files' names): a file past this stops
// the start, naming it. 2^63 leaves more room than any run can use (a
// snapshot every millisecond would take 292 million years).
constexpr std::uint64_t generation_max_allowed = std::uint64_t(1) << 63;

struct load_result {
    loaded_state state;
    std::string error;  // non-empty: refuse to start, print this
};

// Reads and checks everything in `dir` (which exists and is writable).
// `cores`: this run's core count, to split the keys by owner.
//
// A log that should be there and is not is refused like damage, naming
// it: every generation's logs are created together before any is written,
// and each names how many there are (log_set_record), so a missing one was
// lost, never just unwritten. Also refused: the logs of the snapshot's own
// generation when the snapshot lists them, and a generation the logs after
// it follow. A log whose start is not whole (it ends before its log set
// record, or before its generation_whole record) is ignored when a crash
// may have cut its generation's making short (it holds nothing), and
// refused, naming it and where it ends, once its generation is known to
// have been made whole that far: a generation_whole record in any of its
// logs proves that every log had its log set record; core 0's (written
// last), a record of a change in any log, the snapshot, or a later log set
// that follows the generation prove that every log had both
// (docs/persistence.md, "Generations"). Version 2 logs have no
// generation_whole record and version 1 logs no log set: what they lack
// is not checked.
load_result load(const std::string& dir, unsigned cores);

// Parses and checks one file's bytes, as load() does, without touching the
// disk: the fuzz harness's entry. Returns the error, or "" (a torn tail of a
// log is not an error).
std::string check_file(std::string_view bytes);

// Puts the loaded namespaces into a core's replica and its keys into its
// shard, converting wall-clock times to this process's monotonic clock.
// Keys whose namespace is gone or deleting are left out; keys whose TTL
// passed while ringkv was down are gone. Returns "" or why it failed (the
// keys do not fit --max-memory).
struct applied {
    std::uint64_t keys = 0;
    std::string error;
};
// Sorts the core's own changes (state.changes[core], which no other core
// touches) by key, keeping each key's changes in order, and applies only
// the last change of each key (the one that decides it): the key table is
// sized for them at once (it never grows during the load), and inserting
// keys in order keeps the ordered index's path in cache (4x faster than
// the table order a snapshot part is written in).
applied apply(loaded_state& state, unsigned core, store::shard& keys, store::namespace_registry& namespaces,
              store::instant now, std::uint64_t wall_ms_now);

// Wall-clock milliseconds since 1970.
std::uint64_t wall_ms();

}  // namespace ringkv::persist
