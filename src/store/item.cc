#include <ringkv/store/item.hh>

#include <cstdlib>
#include <cstring>
#include <new>

namespace ringkv::store {

item* item::create(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                   std::uint16_t content_type, std::uint32_t priority, std::uint32_t updated_at_s,
                   bool with_ttl) {
    RINGKV_ASSERT(key.size() <= key_bytes_max && value.size() <= value_bytes_max);
    const std::size_t prefix = with_ttl ? sizeof(expiry) : 0;
    char* memory = static_cast<char*>(std::malloc(prefix + sizeof(item) + key.size() + value.size()));
    RINGKV_ASSERT(memory != nullptr);
    if (with_ttl) new (memory) expiry();
    item* i = new (memory + prefix) item();
    i->_namespace_number = namespace_number;
    i->_updated_at_s = updated_at_s;
    i->_priority = priority;
    i->_packed = std::uint32_t(value.size()) | (std::uint32_t(key.size()) << 21) | (std::uint32_t(with_ttl) << 30);
    i->_content_type = content_type;
    std::memcpy(i->data(), key.data(), key.size());
    if (!value.empty()) std::memcpy(i->data() + key.size(), value.data(), value.size());
    return i;
}

void item::destroy() {
    char* memory = reinterpret_cast<char*>(this) - (has_ttl() ? sizeof(expiry) : 0);
    this->~item();
    std::free(memory);
}

}  // namespace ringkv::store
