#pragma once
// The namespace registry. Every core holds a full replica, read locally on
// every request; changes are made by the request's coordinator, which asks
// core 0 (the authority for names and numbers) and then applies the change
// on every core before it answers, so any connection sees it next.
//
// Status is a function of time, not a timer: a namespace is pending until
// its provisioning instant, provision_ok after; once deleted it is deleting
// until its deletion instant and gone after (then collected).
//
// Replicas converge whatever order changes reach them in: a create's insert
// and a delete's mark come from different coordinators, through different
// mailboxes, so a core may be told to mark a namespace deleting before it is
// told the namespace exists (core 0 holds the record from reservation on,
// and a listing there reveals the id). Such a mark is kept as an early
// deletion that the insert honours.

#include <ringkv/base/string_hash.hh>
#include <ringkv/store/uuid.hh>

#include <cstdint>
#include <map>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringkv::store {

enum class namespace_status { pending, provision_ok, deleting, gone };
std::string_view status_name(namespace_status status);

struct namespace_record {
    uuid id;
    std::uint32_t number = 0;  // creation order, global, never reused; part of key hash seeds
    std::string name;
    std::string organization;  // the bearer token that created it
    bool ttl_support = true;
    std::uint32_t created_at_s = 0;
    std::uint32_t provisioned_at_s = 0;   // wall clock, for updated_at
    std::uint64_t provisioned_at_ms = 0;  // monotonic: provision_ok from here
    bool deleting = false;
    std::uint32_t delete_requested_at_s = 0;
    std::uint64_t deleted_at_ms = 0;      // monotonic: gone from here

    namespace_status status(std::uint64_t now_ms) const;
    std::uint32_t updated_at_s(std::uint64_t now_ms) const;
};

class namespace_registry {
public:
    // The namespace if it exists for this organization and is not gone.
    const namespace_record* find(const uuid& id, std::string_view organization, std::uint64_t now_ms) const;
    // By name within the organization (a hash lookup, not a scan).
    const namespace_record* find_name(std::string_view organization, std::string_view name,
                                      std::uint64_t now_ms) const;
    // By number, whatever the organization: what an owner core checks before
    // it stores a key (the namespace may have been deleted since the
    // coordinator looked). Gone ones are returned too; check status().
    const namespace_record* find_number(std::uint32_t number) const;

    // Adds the record; if a deletion of its id arrived first, the record is
    // stored deleting (and collected in its turn).
    void insert(const namespace_record& record);
    // Marks it deleting. An id not inserted here yet is remembered as an
    // early deletion for insert() to honour (bounded: only a create still on
    // its way to this core leaves one, and its insert consumes it). Returns
    // false if it was already marked.
    bool mark_deleting(const uuid& id, std::uint32_t requested_at_s, std::uint64_t deleted_at_ms);
    // Makes the namespace gone at now_ms (a state reset): marks it deleting
    // with its deletion instant now, or brings an earlier mark's instant
    // forward. An id not inserted here yet is remembered as an early
    // deletion, as by mark_deleting(). Returns false if it was gone already.
    bool delete_now(const uuid& id, std::uint32_t requested_at_s, std::uint64_t now_ms);
    // Forgets namespaces whose deletion has completed; returns their numbers.
    // Costs O(log n) per collected namespace and O(1) when none is due: the
    // pending deletions are kept soonest first, nothing scans the registry.
    std::vector<std::uint32_t> collect_gone(std::uint64_t now_ms);
    // Deletions marked here and not yet collected, and early ones awaiting
    // their insert.
    std::size_t pending_deletions() const { return _due.size(); }
    std::size_t early_deletions() const { return _early_deletions.size(); }

    struct page {
        std::vector<const namespace_record*> records;
        std::size_t total = 0;
    };
    // The organization's namespaces (not gone) in creation order.
    page list(std::string_view organization, std::size_t page_number, std::size_t page_size,
              std::uint64_t now_ms) const;

    // The organization's namespaces that are not gone (live and deleting):
    // what its per-organization limit counts.
    std::size_t count(std::string_view organization, std::uint64_t now_ms) const;

    // Calls visit(const namespace_record&) for every record held (live,
    // deleting, or gone and not yet collected), in no particular order: what
    // a snapshot copies.
    template <typename Visit>
    void for_each(Visit visit) const {
        for (const auto& [id, record] : _by_id) visit(record);
    }

    std::size_t size() const { return _by_id.size(); }
    // An estimate of the memory this replica holds (records, their strings
    // and index entries), for the namespace share of the memory budget.
    std::size_t footprint_bytes() const { return _footprint_bytes; }
    // The estimate for one record, as footprint_bytes() counts it.
    static std::size_t footprint_of(std::string_view organization, std::string_view name);

private:
    struct organization_entry {
        // By creation number: listing order.
        std::map<std::uint32_t, const namespace_record*> by_number;
        // By name: the newest record of each name (an older one of the same
        // name can only be gone, awaiting collection).
        std::unordered_map<std::string_view, const namespace_record*, base::string_hash, std::equal_to<>> by_name;
    };

    struct deletion {
        std::uint64_t deleted_at_ms = 0;
        uuid id;
        std::uint32_t requested_at_s = 0;
    };
    struct later_first {
        bool operator()(const deletion& a, const deletion& b) const { return a.deleted_at_ms > b.deleted_at_ms; }
    };
    void start_deleting(namespace_record& record, const deletion& d);
    void forget(const namespace_record& record);

    std::unordered_map<uuid, namespace_record, uuid_hash> _by_id;
    std::unordered_map<std::uint32_t, const namespace_record*> _by_number;
    std::unordered_map<std::string, organization_entry, base::string_hash, std::equal_to<>> _by_organization;
    // Records marked deleting, soonest deletion instant on top. A min-heap,
    // not a FIFO: the delay is one global value, but marks from different
    // coordinators reach a replica in any order, so arrival order is not
    // deadline order. One entry per deleting record (a record is marked
    // once), plus one left behind by each delete_now() that brought a mark
    // forward: stale (its instant is no longer the record's), skipped.
    std::priority_queue<deletion, std::vector<deletion>, later_first> _due;
    // Marks of ids not inserted here yet (see insert()).
    std::unordered_map<uuid, deletion, uuid_hash> _early_deletions;
    std::size_t _footprint_bytes = 0;
};

}  // namespace ringkv::store
