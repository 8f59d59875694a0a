#include <ringkv/store/namespaces.hh>

#include <ringkv/base/assert.hh>

#include <algorithm>

namespace ringkv::store {

std::string_view status_name(namespace_status status) {
    switch (status) {
        case namespace_status::pending: return "pending";
        case namespace_status::provision_ok: return "provision_ok";
        case namespace_status::deleting: return "deleting";
        case namespace_status::gone: return "gone";
    }
    return "pending";
}

namespace_status namespace_record::status(std::uint64_t now_ms) const {
    if (deleting) return now_ms >= deleted_at_ms ? namespace_status::gone : namespace_status::deleting;
    return now_ms >= provisioned_at_ms ? namespace_status::provision_ok : namespace_status::pending;
}

std::uint32_t namespace_record::updated_at_s(std::uint64_t now_ms) const {
    switch (status(now_ms)) {
        case namespace_status::pending: return created_at_s;
        case namespace_status::provision_ok: return provisioned_at_s;
        default: return delete_requested_at_s;
    }
}

const namespace_record* namespace_registry::find(const uuid& id, std::string_view organization,
                                                 std::uint64_t now_ms) const {
    auto it = _by_id.find(id);
    if (it == _by_id.end() || it->second.organization != organization) return nullptr;
    if (it->second.status(now_ms) == namespace_status::gone) return nullptr;
    return &it->second;
}

const namespace_record* namespace_registry::find_name(std::string_view organization, std::string_view name,
                                                      std::uint64_t now_ms) const {
    auto org = _by_organization.find(organization);
    if (org == _by_organization.end()) return nullptr;
    auto named = org->second.by_name.find(name);
    if (named == org->second.by_name.end() || named->second->status(now_ms) == namespace_status::gone) return nullptr;
    return named->second;
}

const namespace_record* namespace_registry::find_number(std::uint32_t number) const {
    auto it = _by_number.find(number);
    return it == _by_number.end() ? nullptr : it->second;
}

std::size_t namespace_registry::footprint_of(std::string_view organization, std::string_view name) {
    // The record in _by_id's node, its two strings, and one entry in each of
    // the four indexes (hash nodes and a tree node, ~48 bytes each).
    constexpr std::size_t index_entries_bytes = 4 * 48;
    return sizeof(namespace_record) + 32 + organization.size() + name.size() + index_entries_bytes;
}

void namespace_registry::insert(const namespace_record& record) {
    auto [it, inserted] = _by_id.emplace(record.id, record);
    RINGKV_ASSERT(inserted);
    namespace_record& stored = it->second;
    RINGKV_ASSERT(_by_number.emplace(stored.number, &stored).second);
    organization_entry& org = _by_organization[record.organization];
    org.by_number.emplace(stored.number, &stored);
    // Erase, then insert: the map's key is a view of the record's own name,
    // so an older record of that name (gone, not yet collected) must not
    // keep lending it.
    org.by_name.erase(std::string_view(stored.name));
    org.by_name.emplace(std::string_view(stored.name), &stored);
    _footprint_bytes += footprint_of(stored.organization, stored.name);
    if (auto early = _early_deletions.find(record.id); early != _early_deletions.end()) {
        // Deleted before this replica heard of it: it arrives deleting.
        stored.deleting = false;
        start_deleting(stored, early->second);
        _early_deletions.erase(early);
    } else if (stored.deleting) {
        stored.deleting = false;
        start_deleting(stored, {stored.deleted_at_ms, stored.id, stored.delete_requested_at_s});
    }
}

void namespace_registry::start_deleting(namespace_record& record, const deletion& d) {
    RINGKV_ASSERT(!record.deleting);
    record.deleting = true;
    record.delete_requested_at_s = d.requested_at_s;
    record.deleted_at_ms = d.deleted_at_ms;
    _due.push({d.deleted_at_ms, record.id, d.requested_at_s});
}

bool namespace_registry::mark_deleting(const uuid& id, std::uint32_t requested_at_s, std::uint64_t deleted_at_ms) {
    const deletion d{deleted_at_ms, id, requested_at_s};
    auto it = _by_id.find(id);
    if (it == _by_id.end()) return _early_deletions.emplace(id, d).second;
    if (it->second.deleting) return false;
    start_deleting(it->second, d);
    return true;
}

bool namespace_registry::delete_now(const uuid& id, std::uint32_t requested_at_s, std::uint64_t now_ms) {
    auto it = _by_id.find(id);
    if (it == _by_id.end()) {
        auto [early, added] = _early_deletions.emplace(id, deletion{now_ms, id, requested_at_s});
        if (!added) early->second.deleted_at_ms = std::min(early->second.deleted_at_ms, now_ms);
        return true;
    }
    namespace_record& record = it->second;
    if (!record.deleting) {
        start_deleting(record, {now_ms, id, requested_at_s});
        return true;
    }
    if (record.deleted_at_ms <= now_ms) return false;
    record.deleted_at_ms = now_ms;
    _due.push({now_ms, id, record.delete_requested_at_s});
    return true;
}

void namespace_registry::forget(const namespace_record& r) {
    auto org = _by_organization.find(r.organization);
    RINGKV_ASSERT(org != _by_organization.end());
    org->second.by_number.erase(r.number);
    if (auto named = org->second.by_name.find(r.name); named != org->second.by_name.end() && named->second == &r) {
        org->second.by_name.erase(named);
    }
    if (org->second.by_number.empty()) _by_organization.erase(org);
    _by_number.erase(r.number);
    _footprint_bytes -= footprint_of(r.organization, r.name);
}

std::vector<std::uint32_t> namespace_registry::collect_gone(std::uint64_t now_ms) {
    std::vector<std::uint32_t> numbers;
    while (!_due.empty() && _due.top().deleted_at_ms <= now_ms) {
        const deletion due = _due.top();
        _due.pop();
        auto it = _by_id.find(due.id);
        // An entry a delete_now() made stale: the record went at its new instant.
        if (it == _by_id.end() || it->second.deleted_at_ms != due.deleted_at_ms) continue;
        RINGKV_ASSERT(it->second.status(now_ms) == namespace_status::gone);
        numbers.push_back(it->second.number);
        forget(it->second);
        _by_id.erase(it);
    }
    return numbers;
}

namespace_registry::page namespace_registry::list(std::string_view organization, std::size_t page_number,
                                                  std::size_t page_size, std::uint64_t now_ms) const {
    page result;
    auto org = _by_organization.find(organization);
    if (org == _by_organization.end()) return result;
    // Saturating: a page number far past the end is just past the end.
    std::size_t first = 0;
    if (__builtin_mul_overflow(page_number - 1, page_size, &first)) first = SIZE_MAX;
    for (const auto& [number, record] : org->second.by_number) {
        if (record->status(now_ms) == namespace_status::gone) continue;
        if (result.total >= first && result.records.size() < page_size) result.records.push_back(record);
        ++result.total;
    }
    return result;
}

std::size_t namespace_registry::count(std::string_view organization, std::uint64_t now_ms) const {
    auto org = _by_organization.find(organization);
    if (org == _by_organization.end()) return 0;
    std::size_t live = 0;
    for (const auto& [number, record] : org->second.by_number) live += record->status(now_ms) != namespace_status::gone;
    return live;
}

}  // namespace ringkv::store
