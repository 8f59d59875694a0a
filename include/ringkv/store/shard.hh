#pragma once
// The keys one core owns: its hash table, an ordered index per namespace,
// its timer wheel and its interned content types. No I/O, no threads, no
// clock: every call gets "now", so tests drive it with a manual clock.
// Only the owning core calls it (the coordinator sends it messages).

#include <ringkv/store/item.hh>
#include <ringkv/store/key_table.hh>
#include <ringkv/store/ordered_index.hh>
#include <ringkv/store/timer_wheel.hh>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringkv::store {

struct instant {
    std::uint64_t monotonic_ms = 0;
    std::uint32_t wall_s = 0;  // seconds since 1970 (good until 2106)
};

struct list_entry {
    std::string_view key;   // valid until the shard changes (the coordinator copies it)
    std::uint32_t size_bytes;
    std::uint32_t updated_at_s;
};

// How much one background step may do: at most items_max items, and, when
// a clock is given, no more once it reads deadline_ns (checked every
// shard::check_every_items items). The store itself keeps no clock.
struct step_budget {
    std::size_t items_max = 2048;
    std::uint64_t (*clock_ns)() = nullptr;
    std::uint64_t deadline_ns = 0;
};

class shard {
public:
    // Distinct content types a core keeps; one more is refused.
    static constexpr std::size_t content_types_max = 65535;

    explicit shard(std::uint64_t now_ms) : _wheel(now_ms) {}
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    enum class put_result { created, replaced, too_many_content_types };
    // ttl_ms == 0: no expiry (and clears an earlier one).
    put_result put(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key, std::string_view value,
                   std::string_view content_type, std::uint64_t ttl_ms, instant now);
    // A reference to the live item, or empty when missing or expired.
    item_ref get(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key, instant now);
    void erase(std::uint64_t hash, std::uint32_t namespace_number, std::string_view key);
    // Up to `limit` live keys > after with the prefix, in order, appended to out.
    void list(std::uint32_t namespace_number, std::string_view prefix, std::string_view after, std::size_t limit,
              instant now, std::vector<list_entry>& out);
    // Purges a namespace's keys over the next background steps. The caller
    // stops asking for them at once (the namespace is gone or deleting).
    void drop_namespace(std::uint32_t namespace_number);

    std::string_view content_type(std::uint16_t id) const { return _content_types[id]; }

    static constexpr std::size_t check_every_items = 64;

    // Expiry and purging, bounded; returns true while work remains.
    bool background_step(instant now, step_budget budget = {});

    std::size_t size() const { return _table.size(); }
    std::size_t ttl_keys() const { return _wheel.size(); }

private:
    // Removes the item from the table, its index and (in_wheel) the wheel,
    // then drops the table's reference.
    void unlink(item& i, bool in_wheel);
    std::uint32_t intern(std::string_view content_type, bool& ok);

    key_table _table;
    std::unordered_map<std::uint32_t, ordered_index> _namespaces;
    timer_wheel _wheel;
    std::deque<std::string> _content_types;  // deque: elements never move
    std::unordered_map<std::string_view, std::uint16_t> _content_type_ids;
    std::vector<std::uint32_t> _dropping;  // namespaces whose keys are being purged
};

}  // namespace ringkv::store
