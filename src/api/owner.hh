#pragma once
// Key work as the owner core runs it (the coordinator reaches it with
// submit_to). Kept apart from the routes so tests can drive a core_state
// directly.

#include <ringkv/api/service.hh>
#include <ringkv/store/shard.hh>

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringkv::api {

struct put_order {
    std::uint64_t hash = 0;
    std::uint32_t namespace_number = 0;
    std::string_view key;
    std::string_view value;
    std::string_view content_type;
    std::uint64_t ttl_ms = 0;
};

enum class put_outcome { created, replaced, memory_full, storage_full, namespace_deleting, namespace_gone };

// Stores the key unless this core's own replica says the namespace is being
// deleted or gone: the coordinator checked its replica, but a DELETE may have
// reached this core since, and storing now would re-create the index of a
// namespace whose purge has already run (a key kept forever).
// With a change log (--data-dir), the write is recorded there and *ticket
// set to what the caller waits for before answering (0: nothing);
// storage_full: the log cannot be written, nothing changed.
put_outcome put_on_owner(core_state& state, const put_order& order, store::instant now,
                         store::change_log::ticket* ticket = nullptr);

// Erases the key on its owner. No value: the change log refuses writes
// (disk full), nothing changed; otherwise the ticket to wait for before
// answering (0: nothing), erased or not (a DELETE of a missing key is 204).
std::optional<store::change_log::ticket> erase_on_owner(core_state& state, std::uint64_t hash,
                                                        std::uint32_t namespace_number, std::string_view key);

}  // namespace ringkv::api
