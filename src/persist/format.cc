#include <ringkv/persist/format.hh>

#include <ringkv/base/assert.hh>

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace ringkv::persist {
namespace {

constexpr char magic[6] = {'R', 'I', 'N', 'G', 'K', 'V'};

// Little-endian fixed-width fields (the formats are little-endian whatever
// the host; every host ringkv builds for is, so these are plain copies).
static_assert(std::endian::native == std::endian::little, "the file formats are little-endian");

template <typename Integer>
void put_int(std::vector<char>& out, Integer value) {
    const std::size_t at = out.size();
    out.resize(at + sizeof(value));
    std::memcpy(out.data() + at, &value, sizeof(value));
}

void put_bytes(std::vector<char>& out, std::string_view bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

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

// Starts a record: reserves its header, writes the type. finish() fills in
// the length and the check.
std::size_t begin(std::vector<char>& out, record_type type) {
    const std::size_t at = out.size();
    out.resize(at + record_header_bytes);
    out.push_back(char(type));
    return at;
}

void finish(std::vector<char>& out, std::size_t at) {
    const std::size_t body_bytes = out.size() - at - record_header_bytes;
    RINGKV_ASSERT(body_bytes <= record_body_bytes_max);
    const auto length = std::uint32_t(body_bytes);
    const std::uint32_t length_complement = ~length;
    std::memcpy(out.data() + at + 8, &length, sizeof(length));
    std::memcpy(out.data() + at + 12, &length_complement, sizeof(length_complement));
    const std::uint64_t check = check_of(out.data() + at + 8, 8 + body_bytes);
    std::memcpy(out.data() + at, &check, sizeof(check));
}

bool all_zero(std::string_view bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

bool known_type(std::uint8_t type) { return type >= std::uint8_t(record_type::put) && type <= std::uint8_t(record_type::clock); }

}  // namespace

void append_header(const file_header& header, std::vector<char>& out) {
    const std::size_t at = out.size();
    put_bytes(out, {magic, sizeof(magic)});
    put_int(out, std::uint16_t(header.kind));
    put_int(out, header.version);
    put_int(out, header.core);
    put_int(out, header.generation);
    put_int(out, XXH3_64bits(out.data() + at, 24));
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
    return record_header_bytes + 1 + 4 + 4 + 8 + 2 + 2 + 4 + r.key.size() + r.content_type.size() + r.value.size();
}

void append(const put_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::put);
    put_int(out, r.namespace_number);
    put_int(out, r.updated_at_s);
    put_int(out, r.expires_at_wall_ms);
    put_int(out, std::uint16_t(r.key.size()));
    put_int(out, std::uint16_t(r.content_type.size()));
    put_int(out, std::uint32_t(r.value.size()));
    put_bytes(out, r.key);
    put_bytes(out, r.content_type);
    put_bytes(out, r.value);
    finish(out, at);
}

void append(const erase_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::erase);
    put_int(out, r.namespace_number);
    put_int(out, std::uint16_t(r.key.size()));
    put_bytes(out, r.key);
    finish(out, at);
}

void append(const namespace_state_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::namespace_state);
    put_int(out, r.id.high);
    put_int(out, r.id.low);
    put_int(out, r.number);
    put_int(out, std::uint8_t((r.ttl_support ? 1 : 0) | (r.deleting ? 2 : 0)));
    put_int(out, r.created_at_s);
    put_int(out, r.provisioned_at_s);
    put_int(out, r.provisioned_at_wall_ms);
    put_int(out, r.delete_requested_at_s);
    put_int(out, r.deleted_at_wall_ms);
    put_int(out, std::uint16_t(r.name.size()));
    put_int(out, std::uint16_t(r.organization.size()));
    put_bytes(out, r.name);
    put_bytes(out, r.organization);
    finish(out, at);
}

void append(const snapshot_meta_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::snapshot_meta);
    put_int(out, r.next_namespace_number);
    put_int(out, r.taken_at_wall_ms);
    put_int(out, r.parts);
    finish(out, at);
}

void append(const part_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::part);
    put_int(out, r.core);
    put_int(out, r.bytes);
    put_int(out, r.records);
    finish(out, at);
}

void append(const end_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::end);
    put_int(out, r.records);
    finish(out, at);
}

std::optional<put_record> decode_put(std::string_view body) {
    cursor c(body.substr(1));
    put_record r;
    std::uint16_t key_bytes = 0, type_bytes = 0;
    std::uint32_t value_bytes = 0;
    c.read(r.namespace_number);
    c.read(r.updated_at_s);
    c.read(r.expires_at_wall_ms);
    c.read(key_bytes);
    c.read(type_bytes);
    c.read(value_bytes);
    c.read(r.key, key_bytes);
    c.read(r.content_type, type_bytes);
    c.read(r.value, value_bytes);
    if (!c.done()) return std::nullopt;
    return r;
}

std::optional<erase_record> decode_erase(std::string_view body) {
    cursor c(body.substr(1));
    erase_record r;
    std::uint16_t key_bytes = 0;
    c.read(r.namespace_number);
    c.read(key_bytes);
    c.read(r.key, key_bytes);
    if (!c.done()) return std::nullopt;
    return r;
}

std::optional<namespace_state_record> decode_namespace_state(std::string_view body) {
    cursor c(body.substr(1));
    namespace_state_record r;
    std::uint8_t flags = 0;
    std::uint16_t name_bytes = 0, organization_bytes = 0;
    c.read(r.id.high);
    c.read(r.id.low);
    c.read(r.number);
    c.read(flags);
    c.read(r.created_at_s);
    c.read(r.provisioned_at_s);
    c.read(r.provisioned_at_wall_ms);
    c.read(r.delete_requested_at_s);
    c.read(r.deleted_at_wall_ms);
    c.read(name_bytes);
    c.read(organization_bytes);
    c.read(r.name, name_bytes);
    c.read(r.organization, organization_bytes);
    if (!c.done() || (flags & ~3u) != 0) return std::nullopt;
    r.ttl_support = (flags & 1) != 0;
    r.deleting = (flags & 2) != 0;
    return r;
}

std::optional<snapshot_meta_record> decode_snapshot_meta(std::string_view body) {
    cursor c(body.substr(1));
    snapshot_meta_record r;
    c.read(r.next_namespace_number);
    c.read(r.taken_at_wall_ms);
    c.read(r.parts);
    if (!c.done()) return std::nullopt;
    return r;
}

std::optional<part_record> decode_part(std::string_view body) {
    cursor c(body.substr(1));
    part_record r;
    c.read(r.core);
    c.read(r.bytes);
    c.read(r.records);
    if (!c.done()) return std::nullopt;
    return r;
}

std::optional<end_record> decode_end(std::string_view body) {
    cursor c(body.substr(1));
    end_record r;
    c.read(r.records);
    if (!c.done()) return std::nullopt;
    return r;
}

void append(const log_set_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::log_set);
    put_int(out, r.cores);
    put_int(out, r.follows);
    finish(out, at);
}

void append(const clock_record& r, std::vector<char>& out) {
    const std::size_t at = begin(out, record_type::clock);
    put_int(out, r.offset_ms);
    finish(out, at);
}

std::optional<log_set_record> decode_log_set(std::string_view body) {
    if (body.empty() || body[0] != char(record_type::log_set)) return std::nullopt;
    cursor c(body.substr(1));
    log_set_record r;
    c.read(r.cores);
    c.read(r.follows);
    if (!c.done() || r.cores == 0) return std::nullopt;
    return r;
}

std::optional<clock_record> decode_clock(std::string_view body) {
    if (body.empty() || body[0] != char(record_type::clock)) return std::nullopt;
    cursor c(body.substr(1));
    clock_record r;
    c.read(r.offset_ms);
    if (!c.done()) return std::nullopt;
    return r;
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
