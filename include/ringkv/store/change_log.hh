#pragma once
// Where a core records the changes it makes, so they survive a restart
// (persist/ implements it; api/ calls it at each write, on the core that
// makes the write). Kept here, beside the state it describes, so the API
// depends on the store and not on persist/.
//
// A call returns a ticket: 0 when the write may be acknowledged at once,
// otherwise the caller waits with wait() before it answers (the record is
// not yet on disk under --log always, or a snapshot's cut is in progress).

#include <ringkv/store/namespaces.hh>

#include <cstdint>
#include <string_view>

namespace ringkv::store {

class change_log {
public:
    using ticket = std::uint64_t;

    // Told when a ticket may be acknowledged (ok), or will never be because
    // the log cannot be written (the disk is full: the client gets 507).
    // Called on the core that holds the log, never from inside wait().
    class waiter {
    public:
        virtual void ready(bool ok) = 0;
        waiter* next_waiting = nullptr;  // intrusive link, the log's only
        ticket awaited = 0;

    protected:
        ~waiter() = default;
    };

    // False while records cannot be written (disk full, or the log's buffer
    // is at its bound): writes are refused with 507 before they change
    // anything. Reads do not ask.
    virtual bool accepting() const = 0;

    // A key stored. expires_at_ms: monotonic, as the item holds it; 0 = none.
    virtual ticket put(std::uint32_t namespace_number, std::string_view key, std::string_view value,
                       std::string_view content_type, std::uint32_t updated_at_s, std::uint64_t expires_at_ms) = 0;
    virtual ticket erase(std::uint32_t namespace_number, std::string_view key) = 0;
    // A namespace created, or marked deleting (the record as it now is).
    virtual ticket namespace_changed(const namespace_record& record) = 0;
    // The virtual clock moved (POST /_ringkv/clock, already on every core):
    // its lead, recorded in this core's log (a restart takes the largest
    // one it finds).
    virtual ticket clock_moved() = 0;

    // False when the ticket may be acknowledged already. Otherwise true, and
    // w.ready() is called later (never from inside wait()); the waiter must
    // stay alive until then.
    virtual bool wait(ticket t, waiter& w) = 0;

protected:
    ~change_log() = default;
};

}  // namespace ringkv::store
