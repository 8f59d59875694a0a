#include <ringkv/persist/format.hh>

#include <ringkv/base/assert.hh>

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstring>
#include <tuple>

namespace ringkv::persist {
namespace {

constexpr char magic[6] = {'R', 'I', 'N', 'G', 'K', 'V'};

// Little-endian fixed-width fields (the formats are little-endian whatever
// the host; every host ringkv builds for is, so these are plain copies).
static_assert(std::endian::native == std::endian::little, "the file formats are little-endian");

template <std::integral Integer>
void put(std::vector<char>& out, Integer value) {
    const std::size_t at = out.size();
    out.resize(at + sizeof(value));
    std::memcpy(out.data() + at, &value, sizeof(value));
}

void put(std::vector<char>& out, std::string_view bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

template <std::integral Integer>
constexpr std::size_t bytes_of(Integer) {
    return sizeof(Integer);
}

std::size_t bytes_of(std::string_view bytes) { return bytes.size(); }

// Reads fields front to back; any read past the end fails the whole decode.
class cursor {
public:
    explicit cursor(std::string_view bytes) : _bytes(bytes) {}
    template <typename Integer>
    bool read(Integer& out) {
        if (_bytes.size() - _at < sizeof(out)) return fail();
        std::memcpy(&out, _bytes.data() + _at, sizeof(out));
        _at += sizeof(out);
        return true;
    }
    bool read(std::string_view& out, std::size_t bytes) {
        if (_bytes.size() - _at < bytes) return fail();
        out = _bytes.substr(_at, bytes);
        _at += bytes;
        return true;
    }
    // Every byte consumed and nothing failed.
    bool done() const { return _ok && _at == _bytes.size(); }

private:
    bool fail() {
        _ok = false;
        _at = _bytes.size();
        return false;
    }
    std::string_view _bytes;
    std::size_t _at = 0;
    bool _ok = true;
};

std::uint64_t check_of(const char* length_and_body, std::size_t bytes) { return XXH3_64bits(length_and_body, bytes); }

// Writes one record: its header (the length and the check are filled in
// last, over the body), the type, then the fields in order.
template <typename... Fields>
void append_record(std::vector<char>& out, record_type type, const std::tuple<Fields...>& fields) {
    const std::size_t at = out.size();
    out.resize(at + record_header_bytes);
    out.push_back(char(type));
    std::apply([&out](const auto&... field) { (put(out, field), ...); }, fields);
    const std::size_t body_bytes = out.size() - at - record_header_bytes;
    RINGKV_ASSERT(body_bytes <= record_body_bytes_max);
    const auto length = std::uint32_t(body_bytes);
    const std::uint32_t length_complement = ~length;
    std::memcpy(out.data() + at + 8, &length, sizeof(length));
    std::memcpy(out.data() + at + 12, &length_complement, sizeof(length_complement));
    const std::uint64_t check = check_of(out.data() + at + 8, 8 + body_bytes);
    std::memcpy(out.data() + at, &check, sizeof(check));
}

// Each record's body after the type byte, field by field in file order
// (integers at their own width, text as its bytes after all the lengths):
// the one statement of each layout the encoders write. The decoders below
// read the same order.
auto fields_of(const put_record& r) {
    return std::tuple{r.namespace_number, r.updated_at_s, r.expires_at_wall_ms, std::uint16_t(r.key.size()),
                      std::uint16_t(r.content_type.size()), std::uint32_t(r.value.size()), r.key, r.content_type,
                      r.value};
}
auto fields_of(const erase_record& r) { return std::tuple{r.namespace_number, std::uint16_t(r.key.size()), r.key}; }
auto fields_of(const namespace_state_record& r) {
    const auto flags = std::uint8_t((r.ttl_support ? 1 : 0) | (r.deleting ? 2 : 0));
    return std::tuple{r.id.high, r.id.low, r.number, flags, r.created_at_s, r.provisioned_at_s,
                      r.provisioned_at_wall_ms, r.delete_requested_at_s, r.deleted_at_wall_ms,
                      std::uint16_t(r.name.size()), std::uint16_t(r.organization.size()), r.name, r.organization};
}
auto fields_of(const snapshot_meta_record& r) { return std::tuple{r.next_namespace_number, r.taken_at_wall_ms, r.parts}; }
auto fields_of(const part_record& r) { return std::tuple{r.core, r.bytes, r.records}; }
auto fields_of(const end_record& r) { return std::tuple{r.records}; }
auto fields_of(const log_set_record& r) { return std::tuple{r.cores, r.follows}; }
auto fields_of(const clock_record& r) { return std::tuple{r.offset_ms}; }
auto fields_of(const generation_whole_record& r) { return std::tuple{r.generation}; }

bool all_zero(std::string_view bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool known_type(std::uint8_t type) {
    return type >= std::uint8_t(record_type::put) && type <= std::uint8_t(record_type::generation_whole);
}

}  // namespace

void append_header(const file_header& header, std::vector<char>& out) {
    const std::size_t at = out.size();
    put(out, std::string_view(magic, sizeof(magic)));
    put(out, std::uint16_t(header.kind));
    put(out, header.version);
    put(out, header.core);
    put(out, header.generation);
    put(out, XXH3_64bits(out.data() + at, 24));
}

header_result read_header(std::string_view bytes) {
    if (bytes.size() < file_header_bytes) return {std::nullopt, "shorter than a file header"};
    if (std::memcmp(bytes.data(), magic, sizeof(magic)) != 0) return {std::nullopt, "not a ringkv file (bad magic bytes)"};
    std::uint64_t check = 0;
    std::memcpy(&check, bytes.data() + 24, sizeof(check));
    if (check != XXH3_64bits(bytes.data(), 24)) return {std::nullopt, "the file header fails its checksum"};
    cursor c(bytes.substr(6, 18));
    std::uint16_t kind = 0;
    file_header h;
    c.read(kind);
    c.read(h.version);
    c.read(h.core);
    c.read(h.generation);
    if (h.version > format_version) {
        return {std::nullopt, "format version " + std::to_string(h.version) + " is newer than this ringkv reads (" +
                                  std::to_string(format_version) + "); use a newer ringkv"};
    }
    if (h.version == 0) return {std::nullopt, "format version 0 does not exist"};
    if (kind < std::uint16_t(file_kind::log) || kind > std::uint16_t(file_kind::snapshot)) {
        return {std::nullopt, "unknown file kind " + std::to_string(kind)};
    }
    h.kind = file_kind(kind);
    return {h, {}};
}

std::size_t encoded_bytes(const put_record& r) {
    const auto body_bytes = [](const auto&... field) { return (bytes_of(field) + ...); };
    return record_header_bytes + 1 + std::apply(body_bytes, fields_of(r));
}

void append(const put_record& r, std::vector<char>& out) { append_record(out, record_type::put, fields_of(r)); }

void append(const erase_record& r, std::vector<char>& out) { append_record(out, record_type::erase, fields_of(r)); }

void append(const namespace_state_record& r, std::vector<char>& out) { append_record(out, record_type::namespace_state, fields_of(r)); }

void append(const snapshot_meta_record& r, std::vector<char>& out) { append_record(out, record_type::snapshot_meta, fields_of(r)); }

void append(const part_record& r, std::vector<char>& out) { append_record(out, record_type::part, fields_of(r)); }

void append(const end_record& r, std::vector<char>& out) { append_record(out, record_type::end, fields_of(r)); }

void append(const log_set_record& r, std::vector<char>& out) { append_record(out, record_type::log_set, fields_of(r)); }

void append(const clock_record& r, std::vector<char>& out) { append_record(out, record_type::clock, fields_of(r)); }

void append(const generation_whole_record& r, std::vector<char>& out) {
    append_record(out, record_type::generation_whole, fields_of(r));
}

namespace {

// One body of `type`: its type byte, then the fields `read` takes from a
// cursor into a record, in the order fields_of() writes them. The record
// only if `read` accepts what it read and every byte was consumed.
template <typename Record, typename Read>
std::optional<Record> decode_body(std::string_view body, record_type type, Read read) {
    if (body.empty() || body[0] != char(type)) return std::nullopt;
    cursor c(body.substr(1));
    Record r;
    if (!read(c, r) || !c.done()) return std::nullopt;
    return r;
}

}  // namespace

std::optional<put_record> decode_put(std::string_view body) {
    return decode_body<put_record>(body, record_type::put, [](cursor& c, put_record& r) {
        std::uint16_t key_bytes = 0, type_bytes = 0;
        std::uint32_t value_bytes = 0;
        return c.read(r.namespace_number) && c.read(r.updated_at_s) && c.read(r.expires_at_wall_ms) &&
               c.read(key_bytes) && c.read(type_bytes) && c.read(value_bytes) && c.read(r.key, key_bytes) &&
               c.read(r.content_type, type_bytes) && c.read(r.value, value_bytes);
    });
}

std::optional<erase_record> decode_erase(std::string_view body) {
    return decode_body<erase_record>(body, record_type::erase, [](cursor& c, erase_record& r) {
        std::uint16_t key_bytes = 0;
        return c.read(r.namespace_number) && c.read(key_bytes) && c.read(r.key, key_bytes);
    });
}

std::optional<namespace_state_record> decode_namespace_state(std::string_view body) {
    return decode_body<namespace_state_record>(body, record_type::namespace_state, [](cursor& c, namespace_state_record& r) {
        std::uint8_t flags = 0;
        std::uint16_t name_bytes = 0, organization_bytes = 0;
        const bool read = c.read(r.id.high) && c.read(r.id.low) && c.read(r.number) && c.read(flags) &&
                          c.read(r.created_at_s) && c.read(r.provisioned_at_s) && c.read(r.provisioned_at_wall_ms) &&
                          c.read(r.delete_requested_at_s) && c.read(r.deleted_at_wall_ms) && c.read(name_bytes) &&
                          c.read(organization_bytes) && c.read(r.name, name_bytes) &&
                          c.read(r.organization, organization_bytes);
        r.ttl_support = (flags & 1) != 0;
        r.deleting = (flags & 2) != 0;
        return read && (flags & ~3u) == 0;
    });
}

std::optional<snapshot_meta_record> decode_snapshot_meta(std::string_view body) {
    return decode_body<snapshot_meta_record>(body, record_type::snapshot_meta, [](cursor& c, snapshot_meta_record& r) {
        return c.read(r.next_namespace_number) && c.read(r.taken_at_wall_ms) && c.read(r.parts);
    });
}

std::optional<part_record> decode_part(std::string_view body) {
    return decode_body<part_record>(body, record_type::part, [](cursor& c, part_record& r) {
        return c.read(r.core) && c.read(r.bytes) && c.read(r.records);
    });
}

std::optional<end_record> decode_end(std::string_view body) {
    return decode_body<end_record>(body, record_type::end, [](cursor& c, end_record& r) { return c.read(r.records); });
}

std::optional<log_set_record> decode_log_set(std::string_view body) {
    return decode_body<log_set_record>(body, record_type::log_set, [](cursor& c, log_set_record& r) {
        return c.read(r.cores) && c.read(r.follows) && r.cores != 0;
    });
}

std::optional<clock_record> decode_clock(std::string_view body) {
    return decode_body<clock_record>(body, record_type::clock, [](cursor& c, clock_record& r) { return c.read(r.offset_ms); });
}

std::optional<generation_whole_record> decode_generation_whole(std::string_view body) {
    return decode_body<generation_whole_record>(body, record_type::generation_whole,
                                                [](cursor& c, generation_whole_record& r) { return c.read(r.generation); });
}

record_reader::status record_reader::next() {
    _record_offset = _offset;
    if (_offset >= _bytes.size()) return status::end;
    const std::string_view rest = _bytes.substr(_offset);
    // A crash can leave the last append half-written, or zeros where the
    // file was extended but the data never reached the disk: a torn tail.
    if (all_zero(rest)) return status::torn;
    if (rest.size() < record_header_bytes) return status::torn;
    std::uint64_t check = 0;
    std::uint32_t body_bytes = 0, complement = 0;
    std::memcpy(&check, rest.data(), sizeof(check));
    std::memcpy(&body_bytes, rest.data() + 8, sizeof(body_bytes));
    std::memcpy(&complement, rest.data() + 12, sizeof(complement));
    // The length is stored twice (plain and complemented), so a damaged
    // length is told apart from a record cut short by the end of the file.
    if (complement != ~body_bytes || body_bytes == 0 || body_bytes > record_body_bytes_max) return status::damaged;
    if (rest.size() - record_header_bytes < body_bytes) return status::torn;
    const std::size_t record_bytes = record_header_bytes + body_bytes;
    const bool whole = check == check_of(rest.data() + 8, 8 + body_bytes) && known_type(std::uint8_t(rest[record_header_bytes]));
    if (!whole) {
        // The last record with data, followed by nothing or zeros: torn.
        return all_zero(rest.substr(record_bytes)) ? status::torn : status::damaged;
    }
    _current.body = rest.substr(record_header_bytes, body_bytes);
    _current.type = record_type(std::uint8_t(_current.body[0]));
    _offset += record_bytes;
    return status::record;
}

}  // namespace ringkv::persist
