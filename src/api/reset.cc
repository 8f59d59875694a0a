// DELETE /_ringkv/state: every namespace of one organization, or of all,
// gone with its keys (docs/CONTROL.md, "Steering"). The same path as a
// namespace deletion with no delay, in two passes so no core ever shows a
// namespace whose keys are already gone:
//  1. core 0, the authority for names and numbers, picks every namespace
//     reserved before this moment and makes it gone at once (a creation that
//     reserves after it is kept, on every core alike); then every other core
//     does the same with that list (a creation still on its way there meets
//     the deletion first and is honoured as deleted);
//  2. only then does each core drop the keys, which no core can reach any
//     more.
#include "acknowledge.hh"

#include <ringkv/api/service.hh>
#include <ringkv/io/cross_core.hh>
#include <ringkv/io/loop.hh>

#include <vector>

namespace ringkv::api {

namespace {

constexpr unsigned authority_core = 0;

struct picked {
    std::vector<store::namespace_record> records;
    store::change_log::ticket ticket = 0;  // the last deletion's record (--data-dir)
    bool refused = false;  // the data directory takes no writes (disk full): nothing was deleted
};

picked pick_and_delete(const std::optional<std::string>& organization) {
    core_state& state = core_state::local();
    const io::loop& loop = io::loop::current();
    const std::uint64_t now = loop.now_ms();
    picked p;
    // Like every other write, refused before it changes anything: a reset
    // answered 507 must not have happened (nor come back after a restart).
    if (state.changes != nullptr && !state.changes->accepting()) {
        p.refused = true;
        return p;
    }
    state.namespaces.for_each([&](const store::namespace_record& r) {
        if (organization && r.organization != *organization) return;
        if (r.status(now) != store::namespace_status::gone) p.records.push_back(r);
    });
    for (store::namespace_record& r : p.records) {
        state.namespaces.delete_now(r.id, loop.wall_s(), now);
        const store::namespace_record* updated = state.namespaces.find_number(r.number);
        r = *updated;
        if (state.changes != nullptr) p.ticket = state.changes->namespace_changed(r);
    }
    return p;
}

}  // namespace

io::task<reset_outcome> reset_state(std::optional<std::string> organization) {
    picked p = co_await io::submit_to(authority_core, [&organization] { return pick_and_delete(organization); });
    if (p.refused) co_return reset_outcome{0, false};
    const unsigned cores = io::loop::current().core_count();
    for (unsigned core = 0; core < cores; ++core) {
        if (core == authority_core) continue;
        co_await io::submit_to(core, [&p] {
            for (const store::namespace_record& r : p.records) {
                core_state::local().namespaces.delete_now(r.id, r.delete_requested_at_s, r.deleted_at_ms);
            }
        });
    }
    for (unsigned core = 0; core < cores; ++core) {
        co_await io::submit_to(core, [&p] {
            for (const store::namespace_record& r : p.records) core_state::local().keys.drop_namespace(r.number);
        });
    }
    reset_outcome outcome;
    outcome.namespaces = p.records.size();
    outcome.durable = co_await acknowledged(authority_core, p.ticket);
    co_return outcome;
}

io::task<bool> record_clock() {
    store::change_log* log = core_state::local().changes;
    if (log == nullptr) co_return true;
    if (!log->accepting()) co_return false;
    co_return co_await acknowledged(io::loop::current().core(), log->clock_moved());
}

}  // namespace ringkv::api
