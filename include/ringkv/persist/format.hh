#pragma once
// The on-disk formats of --data-dir (docs/persistence.md describes them for
// people): one framing for every file, a header naming what the file is and
// which format version wrote it, then checksummed records.
//
// File header (32 bytes, little-endian):
//   "RINGKV" 2 bytes of kind | u32 version | u32 core | u64 generation |
//   u64 XXH3 of the 24 bytes before it
// Record: u64 check | u32 body bytes | u32 complement of body bytes | body,
// where check is the XXH3 (64 bit) of everything after it (both lengths and
// the body). The length is stored twice so that a damaged length is known
// as damage, never mistaken for a record cut short by the end of the file
// (which is how a crash in the middle of an append looks: a torn tail).
// The body's first byte is its type.
//
// Encoding appends to a caller's buffer; decoding hands out views into the
// caller's bytes (zero-copy, valid while those bytes are), never trusts
// a length before checking it against what is there, and takes only a body
// of its own type whose every byte it consumed.

#include <ringkv/store/uuid.hh>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringkv::persist {

// Version 3: the layout above; a log's log set record is followed by its
// generation_whole record. Version 2 logs have no generation_whole record;
// version 1 files have no log_set and no clock records either, and their
// times are on the machine's clock (ringkv's with no lead). Both are still
// read. A file of a higher version is refused: a reader must not meet a
// record type it does not know (the record reader would take it for a torn
// tail, or damage), so a new record type raises the version.
inline constexpr std::uint32_t format_version = 3;
// The first version whose logs begin with a log set record.
inline constexpr std::uint32_t format_version_log_set = 2;
// The first version whose logs hold a generation_whole record after it.
inline constexpr std::uint32_t format_version_generation_whole = 3;

enum class file_kind : std::uint16_t { log = 1, snapshot_part = 2, snapshot = 3 };

struct file_header {
    file_kind kind = file_kind::log;
    std::uint32_t version = format_version;
    std::uint32_t core = 0;
    std::uint64_t generation = 0;
};
inline constexpr std::size_t file_header_bytes = 32;
inline constexpr std::size_t record_header_bytes = 16;
// The largest body any record has: a put of a 1 MiB value with the longest
// key and Content-Type, rounded up. A length above it is damage.
inline constexpr std::size_t record_body_bytes_max = (1u << 20) + 4096;

enum class record_type : std::uint8_t {
    put = 1,              // a key stored (all of it: value, type, times)
    erase = 2,            // a key deleted
    namespace_state = 3,  // a namespace as it now is (created, or marked deleting)
    snapshot_meta = 4,    // first record of a snapshot: counters
    part = 5,             // a snapshot's part file, as the snapshot lists it
    end = 6,              // last record of a snapshot or part: what came before it
    log_set = 7,          // first record of a log; in a snapshot, its generation's logs
    clock = 8,            // the virtual clock's lead, from here on
    generation_whole = 9,  // second record of a log: every log of its generation has its log set
};

// Times on disk are wall-clock milliseconds since 1970 ("_wall_ms"): the
// monotonic clock of one process means nothing to the next.
struct put_record {
    std::uint32_t namespace_number = 0;
    std::uint32_t updated_at_s = 0;
    std::uint64_t expires_at_wall_ms = 0;  // 0: no TTL
    std::string_view key;
    std::string_view content_type;
    std::string_view value;
};

struct erase_record {
    std::uint32_t namespace_number = 0;
    std::string_view key;
};

struct namespace_state_record {
    store::uuid id;
    std::uint32_t number = 0;
    bool ttl_support = true;
    bool deleting = false;
    std::uint32_t created_at_s = 0;
    std::uint32_t provisioned_at_s = 0;
    std::uint64_t provisioned_at_wall_ms = 0;
    std::uint32_t delete_requested_at_s = 0;
    std::uint64_t deleted_at_wall_ms = 0;
    std::string_view name;
    std::string_view organization;
};

struct snapshot_meta_record {
    std::uint32_t next_namespace_number = 1;
    std::uint64_t taken_at_wall_ms = 0;
    std::uint32_t parts = 0;  // part records that follow the namespaces
};

struct part_record {
    std::uint32_t core = 0;
    std::uint64_t bytes = 0;    // the part file's size
    std::uint64_t records = 0;  // records in it before its end record
};

struct end_record {
    std::uint64_t records = 0;  // records in the file before this one
};

// The logs of one generation, all created (and the directory fsync'd)
// before any of them is written: each names them all, so a missing one is
// known to be lost. follows: the generation of the logs written just
// before these (0: none); they too must be there.
struct log_set_record {
    std::uint32_t cores = 0;  // log-G-000 to log-G-(cores-1)
    std::uint64_t follows = 0;
};

// Written into every log of a generation once each of them has its
// log_set record durable, and made durable before any other record is
// written to any of them: one in any log proves that every log of the
// generation has its log set record, and a record after it in any log
// proves that every log has this one.
struct generation_whole_record {
    std::uint64_t generation = 0;  // the generation of the logs; its header's too
};

// How far ringkv's clock runs ahead of the machine's (POST /_ringkv/clock);
// it only grows, so the largest one found is the one to restore.
struct clock_record {
    std::uint64_t offset_ms = 0;
};

// Encoders: append one whole record (header and body) to out.
void append_header(const file_header& header, std::vector<char>& out);
void append(const put_record& r, std::vector<char>& out);
void append(const erase_record& r, std::vector<char>& out);
void append(const namespace_state_record& r, std::vector<char>& out);
void append(const snapshot_meta_record& r, std::vector<char>& out);
void append(const part_record& r, std::vector<char>& out);
void append(const end_record& r, std::vector<char>& out);
void append(const log_set_record& r, std::vector<char>& out);
void append(const clock_record& r, std::vector<char>& out);
void append(const generation_whole_record& r, std::vector<char>& out);
// The bytes append(put_record) adds: what a buffer bound counts.
std::size_t encoded_bytes(const put_record& r);

// A file header, or why it is not one.
struct header_result {
    std::optional<file_header> header;
    std::string error;  // empty when header is set
};
header_result read_header(std::string_view bytes);

// One decoded record body.
struct record {
    record_type type = record_type::end;
    std::string_view body;  // including the type byte
};
std::optional<put_record> decode_put(std::string_view body);
std::optional<erase_record> decode_erase(std::string_view body);
std::optional<namespace_state_record> decode_namespace_state(std::string_view body);
std::optional<snapshot_meta_record> decode_snapshot_meta(std::string_view body);
std::optional<part_record> decode_part(std::string_view body);
std::optional<end_record> decode_end(std::string_view body);
std::optional<log_set_record> decode_log_set(std::string_view body);
std::optional<clock_record> decode_clock(std::string_view body);
std::optional<generation_whole_record> decode_generation_whole(std::string_view body);

// Walks the records of a file after its header.
class record_reader {
public:
    // bytes: the whole file; records start at file_header_bytes.
    explicit record_reader(std::string_view bytes) : _bytes(bytes), _offset(file_header_bytes) {}

    enum class status {
        record,  // `current` holds the next record
        end,     // the file ends exactly after the last whole record
        // The file ends inside its last record, or its last record with data
        // fails its check and only zeros follow: what a crash in the middle
        // of an append leaves. (A flipped byte in the last record looks the
        // same and is treated the same.)
        torn,
        // A damaged length, or a record that fails its check with data after
        // it: refuse the file.
        damaged,
    };
    status next();
    const record& current() const { return _current; }
    // Where the record just read (or the damage, or the torn tail) starts.
    std::uint64_t offset() const { return _record_offset; }

private:
    std::string_view _bytes;
    std::uint64_t _offset;
    std::uint64_t _record_offset = 0;
    record _current;
};

}  // namespace ringkv::persist
