#include <ringkv/store/item.hh>

#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ringkv::store {
namespace {

// Content types most keys carry, stored as a 16-bit index instead of bytes.
// Immutable and fixed: nothing a client sends adds to it. Matched exactly
// (the stored type is echoed byte for byte), most common first.
constexpr std::array<std::string_view, 24> well_known_types = {
    "application/octet-stream",
    "application/json",
    "text/plain",
    "text/plain; charset=utf-8",
    "application/json; charset=utf-8",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "text/html",
    "text/html; charset=utf-8",
    "text/csv",
    "application/xml",
    "text/xml",
    "application/javascript",
    "text/javascript",
    "text/css",
    "application/pdf",
    "application/msgpack",
    "application/x-msgpack",
    "application/protobuf",
    "application/x-protobuf",
    "application/cbor",
    "image/png",
    "image/jpeg",
    "image/webp",
};

static_assert(well_known_types.size() < item::inline_content_type, "an index must not look like an inline type");

// The index of a well-known type, or -1.
int well_known_index(std::string_view type) {
    for (std::size_t i = 0; i < well_known_types.size(); ++i) {
        if (well_known_types[i].size() == type.size() && well_known_types[i] == type) return int(i);
    }
    return -1;
}

}  // namespace

item::stored_type item::classify(std::string_view content_type) {
    const int known = well_known_index(content_type);
    // An over-long type is refused by create(); its field is never stored.
    const std::uint16_t field = known >= 0 ? std::uint16_t(known)
                                           : std::uint16_t(inline_content_type |
                                                           (content_type.size() & inline_type_bytes_mask));
    return {content_type, field};
}

std::size_t item::allocation_bytes() const {
    const std::size_t type_bytes = (_content_type & inline_content_type) ? (_content_type & inline_type_bytes_mask) : 0;
    return (has_ttl() ? sizeof(expiry) : 0) + sizeof(item) + key_bytes() + value_bytes() + type_bytes;
}

item* item::create(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                   const stored_type& content_type, std::uint32_t priority, std::uint32_t updated_at_s,
                   bool with_ttl) {
    // Callers validate sizes first (the API answers 400/413/415); these hold
    // by construction, and a breach would corrupt the packed header.
    RINGKV_ASSERT(key.size() <= key_bytes_max && value.size() <= value_bytes_max &&
                  content_type.text.size() <= content_type_bytes_max);
    const std::size_t type_bytes = content_type.inline_bytes();
    const std::size_t prefix = with_ttl ? sizeof(expiry) : 0;
    char* memory = static_cast<char*>(std::malloc(prefix + sizeof(item) + key.size() + value.size() + type_bytes));
    if (memory == nullptr) return nullptr;
    if (with_ttl) new (memory) expiry();
    item* i = new (memory + prefix) item();
    i->_namespace_number = namespace_number;
    i->_updated_at_s = updated_at_s;
    i->_priority = priority;
    i->_packed = std::uint32_t(value.size()) | (std::uint32_t(key.size()) << 21) | (std::uint32_t(with_ttl) << 30);
    i->_content_type = content_type.field;
    char* data = i->data();
    if (!key.empty()) std::memcpy(data, key.data(), key.size());
    if (!value.empty()) std::memcpy(data + key.size(), value.data(), value.size());
    if (type_bytes != 0) std::memcpy(data + key.size() + value.size(), content_type.text.data(), type_bytes);
    return i;
}

std::string_view item::content_type() const {
    if ((_content_type & inline_content_type) == 0) return well_known_types[_content_type];
    return {data() + key_bytes() + value_bytes(), std::size_t(_content_type & inline_type_bytes_mask)};
}

void item::destroy() {
    char* memory = reinterpret_cast<char*>(this) - (has_ttl() ? sizeof(expiry) : 0);
    this->~item();
    std::free(memory);
}

}  // namespace ringkv::store
