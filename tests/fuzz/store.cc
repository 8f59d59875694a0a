// The shard-local store (include/ringkv/store/shard.hh) driven by random
// operations and a manual clock, against a plain model: a std::map of
// (namespace, key) in byte order, each with its value, content type, write
// time and expiry.
//
// Oracles: put says created/replaced as the model does, or memory_full and
// then nothing changed; get returns exactly the model's live value and
// content type, and nothing once the expiry instant is reached (exact to
// the ms); list returns exactly the model's live keys with the prefix
// after `after`, in order, up to the limit; the table never holds fewer
// items than are live; the memory count stays within the budget, is at
// least the live items' allocations, and an overwrite that needs no more
// bytes than the live item it replaces is never refused; once the clock
// passes every expiry and background steps run dry, the table holds exactly
// the keys without a TTL of namespaces not dropped, and the timer wheel is
// empty. ASan reports any item leaked or used after release.
//
// Snapshots: a freeze and a thaw come and go among the operations. The
// cut's items read as they did at the freeze until the thaw, whatever the
// operations meanwhile replace, delete, expire or purge (and ASan reports
// one freed too early); what the freeze keeps is at most the cut's items'
// charges (each kept once); a put that succeeds leaves the memory count
// and what the freeze keeps within the budget (a freeze itself may pass
// it: its buffers are counted, and a snapshot is never refused).
//
// Input: [budget 1] then operations, [op 1][operands...], until it ends.
#include "common.hh"

#include <ringkv/store/shard.hh>
#include <ringkv/store/sharding.hh>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace ringkv::store;
using ringkv::fuzz::finding;
using ringkv::fuzz::input_reader;

constexpr std::uint32_t wall_start_s = 1'750'000'000;
// Well-known types (kept as an index) and others (kept in the item).
constexpr std::array<std::string_view, 5> content_types = {"application/octet-stream", "text/plain", "",
                                                           "application/json; charset=utf-8", "x-custom/type"};
// Budgets from tiny (every few puts refused) to none.
constexpr std::array<std::size_t, 4> memory_budgets = {2048, 16 * 1024, 256 * 1024, shard::unbounded};
// Few characters and short keys, so keys collide, share prefixes and sort
// next to one another. '~' sorts after the others, '-' before the letters.
constexpr std::string_view key_alphabet = "ab-/.~";
constexpr std::size_t operations_max = 4000;

struct model_item {
    std::string value;
    std::string content_type;
    std::uint32_t updated_at_s = 0;
    std::uint64_t expires_at_ms = 0;  // 0: never
};

class harness {
public:
    explicit harness(std::size_t memory_bytes_max) : _shard(_now_ms, memory_bytes_max) {}

    void run(input_reader& in) {
        for (std::size_t op = 0; op < operations_max && !in.empty(); ++op) step(in, op);
        finish();
    }

private:
    static std::size_t charge(const std::string& k, const model_item& m) {
        return item::allocation_bytes(k.size(), m.value.size(), m.content_type, m.expires_at_ms != 0) +
               shard::allocator_overhead_bytes;
    }

    instant now() const { return {_now_ms, wall_start_s + std::uint32_t(_now_ms / 1000)}; }
    bool live(const model_item& m) const { return m.expires_at_ms == 0 || _now_ms < m.expires_at_ms; }

    std::string key(input_reader& in, std::size_t bytes_max) {
        std::string k;
        const std::size_t bytes = 1 + in.choose(bytes_max);
        for (std::size_t i = 0; i < bytes; ++i) k += key_alphabet[in.byte() % key_alphabet.size()];
        return k;
    }

    void step(input_reader& in, std::size_t op) {
        switch (in.choose(10)) {
            case 0: case 1: put(in, op); break;
            case 2: get(in); break;
            case 3: erase(in); break;
            case 4: list(in); break;
            case 5: _now_ms += in.choose(4) == 0 ? in.u16() % 8000 : in.choose(20); break;
            case 6: advance_to_expiry(in); break;
            case 7: background(in); break;
            case 8: freeze_or_thaw(); break;
            default: drop(in); break;
        }
        std::size_t live_items = 0, live_bytes = 0;
        for (const auto& [name, m] : _items) {
            if (!live(m)) continue;
            ++live_items;
            live_bytes += charge(name.second, m);
        }
        RINGKV_FUZZ_CHECK(_shard.size() >= live_items, "the table lost live items");
        RINGKV_FUZZ_CHECK(_shard.memory_bytes() >= live_bytes, "the memory count is below the live items' bytes");
        RINGKV_FUZZ_CHECK(_shard.kept_bytes() - _shard.thawed_bytes() <= _cut_bytes, "the freeze keeps more than its cut");
        if (_shard.thawed_bytes() == 0) _thawed_bound = 0;
        RINGKV_FUZZ_CHECK(_shard.thawed_bytes() <= _thawed_bound, "the thaws left more than their cuts kept");
        if (op % 16 == 0) check_cut();
    }

    void freeze_or_thaw() {
        if (_shard.frozen()) {
            check_cut();
            _shard.thaw();
            _cut.clear();
            _thawed_bound += _cut_bytes;  // retired at the ends of loop iterations (background())
            _cut_bytes = 0;
            RINGKV_FUZZ_CHECK(_shard.kept_bytes() == _shard.thawed_bytes(), "the thaw left items kept by no cut");
            return;
        }
        _shard.freeze(_frozen);
        for (const item* i : _frozen.view()) {
            _cut.push_back({std::string(i->key()), std::string(i->value())});
            _cut_bytes += i->allocation_bytes() + shard::allocator_overhead_bytes + 2 * sizeof(item*);
        }
        RINGKV_FUZZ_CHECK(_shard.memory_bytes() >= _frozen.room * sizeof(const item*), "the freeze buffer is uncounted");
    }

    // Every item of the cut reads as at the freeze (while frozen).
    void check_cut() {
        if (!_shard.frozen()) return;
        RINGKV_FUZZ_CHECK(_frozen.count == _cut.size(), "the cut changed size");
        for (std::size_t i = 0; i < _cut.size(); ++i) {
            const item* held = _frozen.view()[i];
            RINGKV_FUZZ_CHECK(held->key() == _cut[i].first && held->value() == _cut[i].second,
                              "a cut item changed before the thaw: " + _cut[i].first);
        }
    }

    void put(input_reader& in, std::size_t op) {
        const std::uint32_t ns = _namespaces[in.choose(_namespaces.size())];
        const std::string k = key(in, 6);
        std::string value = std::to_string(op) + ":";
        const std::uint8_t shape = in.byte();
        value += in.bytes(shape & 1 ? 24 : 0);
        if (shape == 0xff) value.append(std::size_t(in.u16()) * 4, 'v');  // up to 256 KiB now and then
        const std::size_t type_choice = in.choose(content_types.size() + 1);
        // Other types as a client may send them, up to the store's bound.
        const std::string_view type = type_choice < content_types.size() ? content_types[type_choice]
                                                                          : in.bytes(item::content_type_bytes_max);
        const std::uint64_t ttl_ms = in.choose(2) == 0 ? 0 : 1 + in.u16() % 5000;

        const auto found = _items.find({ns, k});
        const bool was_live = found != _items.end() && live(found->second);
        model_item fresh{value, std::string(type), now().wall_s, ttl_ms == 0 ? 0 : _now_ms + ttl_ms};
        // Frozen, the item it replaces may be kept; after a freeze passed the
        // budget, any put may be refused.
        const bool frees_what_it_replaces =
            !_shard.frozen() && _shard.memory_bytes() + _shard.kept_bytes() <= _shard.memory_bytes_max();
        const auto result = _shard.put(key_hash(ns, k), ns, k, value, type, ttl_ms, now());
        if (result == shard::put_result::memory_full) {
            // Counted net of what it replaces: no bigger than the live item, it fits.
            RINGKV_FUZZ_CHECK(!frees_what_it_replaces || !was_live || charge(k, fresh) > charge(k, found->second),
                              "an overwrite needing no more bytes than it frees was refused: " + k);
            return;  // nothing changed; later gets and lists check that
        }
        RINGKV_FUZZ_CHECK(_shard.memory_bytes() + _shard.kept_bytes() <= _shard.memory_bytes_max(),
                          "a put took the memory count past the budget");
        RINGKV_FUZZ_CHECK((result == shard::put_result::replaced) == was_live, k);
        _items[{ns, k}] = std::move(fresh);
        _latest_expiry_ms = std::max(_latest_expiry_ms, _now_ms + ttl_ms);
    }

    void get(input_reader& in) {
        const std::uint32_t ns = _namespaces[in.choose(_namespaces.size())];
        const std::string k = key(in, 6);
        const item_ref got = _shard.get(key_hash(ns, k), ns, k, now());
        const auto found = _items.find({ns, k});
        if (found == _items.end() || !live(found->second)) {
            RINGKV_FUZZ_CHECK(!got, "get served a missing or expired key: " + k);
            return;
        }
        RINGKV_FUZZ_CHECK(got, "get missed a live key: " + k);
        RINGKV_FUZZ_CHECK(got->namespace_number() == ns && got->key() == k, k);
        RINGKV_FUZZ_CHECK(got->value() == found->second.value, k);
        RINGKV_FUZZ_CHECK(got->content_type() == found->second.content_type, k);
        RINGKV_FUZZ_CHECK(got->allocation_bytes() == item::allocation_bytes(k.size(), found->second.value.size(),
                                                                            found->second.content_type,
                                                                            found->second.expires_at_ms != 0), k);
        RINGKV_FUZZ_CHECK(got->updated_at_s() == found->second.updated_at_s, k);
        RINGKV_FUZZ_CHECK(got->has_ttl() == (found->second.expires_at_ms != 0), k);
    }

    void erase(input_reader& in) {
        const std::uint32_t ns = _namespaces[in.choose(_namespaces.size())];
        const std::string k = key(in, 6);
        _shard.erase(key_hash(ns, k), ns, k);
        _items.erase({ns, k});
    }

    void list(input_reader& in) {
        const std::uint32_t ns = _namespaces[in.choose(_namespaces.size())];
        const std::uint8_t shape = in.byte();
        const std::string prefix = shape & 1 ? key(in, 3) : std::string();
        const std::string after = shape & 2 ? key(in, 6) : std::string();
        const std::size_t limit = in.choose(4) == 0 ? 1000 : in.choose(8);
        std::vector<list_entry> got;
        _shard.list(ns, prefix, after, limit, now(), got);

        std::vector<std::pair<const std::string*, const model_item*>> expected;
        for (auto it = _items.lower_bound({ns, prefix}); it != _items.end() && it->first.first == ns; ++it) {
            const std::string& k = it->first.second;
            if (!k.starts_with(prefix)) break;
            if (expected.size() == limit) break;
            if ((after.empty() || k > after) && live(it->second)) expected.emplace_back(&k, &it->second);
        }
        const std::string where = "prefix=" + prefix + " after=" + after + " limit=" + std::to_string(limit);
        RINGKV_FUZZ_CHECK(got.size() == expected.size(),
                          where + " got " + std::to_string(got.size()) + " want " + std::to_string(expected.size()));
        for (std::size_t i = 0; i < got.size(); ++i) {
            RINGKV_FUZZ_CHECK(got[i].key == *expected[i].first, where + " key " + std::string(got[i].key));
            RINGKV_FUZZ_CHECK(got[i].size_bytes == expected[i].second->value.size(), where);
            RINGKV_FUZZ_CHECK(got[i].updated_at_s == expected[i].second->updated_at_s, where);
        }
    }

    // Lands on the next expiry instant, or the ms before it.
    void advance_to_expiry(input_reader& in) {
        std::uint64_t next = 0;
        for (const auto& [name, item] : _items) {
            if (item.expires_at_ms > _now_ms && (next == 0 || item.expires_at_ms < next)) next = item.expires_at_ms;
        }
        if (next == 0) return;
        _now_ms = next - (in.byte() & 1);
    }

    void background(input_reader& in) {
        step_budget budget;
        budget.items_max = 1 + in.choose(80);
        _shard.background_step(now(), budget);
        _shard.end_iteration(_now_ms);  // as the server's loop does after each iteration
    }

    void drop(input_reader& in) {
        const std::size_t slot = in.choose(_namespaces.size());
        const std::uint32_t dropped = _namespaces[slot];
        _shard.drop_namespace(dropped);
        std::erase_if(_items, [dropped](const auto& entry) { return entry.first.first == dropped; });
        _namespaces[slot] = _next_namespace++;  // numbers are never reused
    }

    // Past every expiry, background work runs dry and leaves exactly the
    // keys without a TTL.
    void finish() {
        // (The wheel advances a ms at a time, so the clock goes just past the
        // last deadline rather than far beyond it.)
        _now_ms = std::max(_now_ms, _latest_expiry_ms) + 1;
        std::size_t steps = 0;
        while (_shard.background_step(now())) {
            if (++steps > 100'000) finding("background work never runs dry");
        }
        std::size_t lasting = 0;
        for (const auto& [name, item] : _items) lasting += item.expires_at_ms == 0;
        RINGKV_FUZZ_CHECK(_shard.size() == lasting, "items left over after expiry and purge: " +
                                                        std::to_string(_shard.size()) + " want " + std::to_string(lasting));
        RINGKV_FUZZ_CHECK(_shard.ttl_keys() == 0, "the timer wheel holds items after every expiry");
        if (_shard.frozen()) {
            _shard.thaw();
            _thawed_bound += _cut_bytes;
        }
        const std::size_t thawed_items_max = _thawed_bound / (2 * sizeof(item*));
        for (std::size_t n = 0; n <= thawed_items_max / shard::thaw_step_items; ++n) _shard.end_iteration(_now_ms);
        RINGKV_FUZZ_CHECK(_shard.thawed_bytes() == 0 && _shard.kept_bytes() == 0,
                          "what the thaws kept is not retired by the loop's iterations");
    }

    std::uint64_t _now_ms = 1'000'000;
    shard _shard;
    std::map<std::pair<std::uint32_t, std::string>, model_item> _items;
    std::array<std::uint32_t, 3> _namespaces = {1, 2, 3};
    std::uint32_t _next_namespace = 4;
    std::uint64_t _latest_expiry_ms = 0;  // of every put, dropped or erased since or not
    shard::frozen_items _frozen;  // kept between freezes, as the journal keeps it
    std::vector<std::pair<std::string, std::string>> _cut;  // key and value of each frozen item, read at the freeze
    std::size_t _cut_bytes = 0;  // their charges, plus each one's place on the kept list
    std::size_t _thawed_bound = 0;  // _cut_bytes of the thaws since nothing thawed was left to retire
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t bytes) {
    input_reader in(data, bytes);
    harness h(memory_budgets[in.byte() % memory_budgets.size()]);
    h.run(in);
    return 0;
}
