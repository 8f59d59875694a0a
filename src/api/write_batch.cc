#include "write_batch.hh"

#include "acknowledge.hh"
#include "routes.hh"

#include <ringkv/base/assert.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/store/sharding.hh>

#include <algorithm>
#include <utility>

namespace ringkv::api {

bool write_batch::add(const plan& p, net::http::request& request) {
    RINGKV_DEBUG_ASSERT(!_ran);
    if (_count == _writes.size()) return false;
    const std::uint64_t hash = store::key_hash(p.namespace_number, p.key_view());
    for (std::size_t i = 0; i < _count; ++i) {
        const write& earlier = _writes[i];
        if (earlier.hash == hash && earlier.namespace_number == p.namespace_number && earlier.key_view() == p.key_view()) {
            return false;
        }
    }
    const bool is_put = request.head.method == net::http::method::put;
    std::optional<net::http::error> refusal = is_put ? put_refusal(request) : std::nullopt;
    // A refused write changes nothing, so it waits on this core with no
    // owner; any other write must have the batch's one owner.
    const unsigned here = io::loop::current().core();
    const unsigned owner = refusal ? here : store::shard_of(hash, io::loop::current().core_count());
    if (!refusal) {
        if (_owner && *_owner != owner) return false;
        _owner = owner;
    }
    write& w = _writes[_count++];
    w.hash = hash;
    w.namespace_number = p.namespace_number;
    w.owner = owner;
    w.key_bytes = p.key_bytes;
    std::copy_n(p.key, p.key_bytes, w.key);
    w.ttl_ms = p.ttl_ms;
    w.ticket = 0;
    w.durable = true;
    if (!is_put) {
        w.what = write::kind::erase;
        return true;
    }
    if (refusal) {
        w.what = write::kind::refused;
        w.refusal = refusal;
        return true;
    }
    w.what = write::kind::put;
    w.content_type.assign(content_type_of(request));
    w.value.clear();
    w.value.swap(request.body);  // the parser gets the buffer of an earlier batch back
    return true;
}

void write_batch::run_on(unsigned core) {
    core_state& state = core_state::local();
    const io::loop& here = io::loop::current();
    const store::instant now{here.now_ms(), here.wall_s()};
    for (std::size_t i = 0; i < _count; ++i) {
        write& w = _writes[i];
        if (w.owner != core) continue;
        switch (w.what) {
            case write::kind::put: {
                put_order order;
                order.hash = w.hash;
                order.namespace_number = w.namespace_number;
                order.key = w.key_view();
                order.value = w.value;
                order.content_type = w.content_type;
                order.ttl_ms = w.ttl_ms;
                store::change_log::ticket ticket = 0;
                w.put_result = put_on_owner(state, order, now, &ticket);
                w.ticket = ticket;
                break;
            }
            case write::kind::erase: w.ticket = erase_on_owner(state, w.hash, w.namespace_number, w.key_view()); break;
            case write::kind::refused: break;
        }
    }
}

void write_batch::leg::run() {
    if (!answered) {  // on the owner
        batch->run_on(target);
        answered = true;
        io::loop::current().send(home, *this);
    } else {  // back home
        io::loop::current().reply_received();
        batch->_waiter.resume();
    }
}

struct write_batch::dispatch {
    write_batch& batch;
    bool await_ready() const { return false; }
    bool await_suspend(std::coroutine_handle<> waiter) { return batch.dispatch_all(waiter); }
    void await_resume() const {}
};

bool write_batch::dispatch_all(std::coroutine_handle<> waiter) {
    io::loop& here = io::loop::current();
    _waiter = waiter;
    // The writes that change anything all have one owner (add()). Refused
    // writes wait on this core and run nothing.
    if (!_owner || *_owner == here.core()) {
        run_on(here.core());
        return false;
    }
    _leg.batch = this;
    _leg.target = *_owner;
    _leg.home = here.core();
    _leg.answered = false;
    here.call_sent();
    here.send(*_owner, _leg);
    return true;
}

io::task<> write_batch::await_durable(unsigned owner) {
    // Tickets grow in log order, so the owner's last one covers the rest
    // when it succeeds; after a failure each is asked on its own.
    store::change_log::ticket last = 0;
    for (std::size_t i = 0; i < _count; ++i) {
        const write& w = _writes[i];
        if (w.owner == owner && w.ticket) last = std::max(last, *w.ticket);
    }
    if (last == 0 || co_await acknowledged(owner, last)) co_return;
    for (std::size_t i = 0; i < _count; ++i) {
        write& w = _writes[i];
        if (w.owner == owner && w.ticket && *w.ticket != 0) w.durable = co_await acknowledged(owner, *w.ticket);
    }
}

io::task<> write_batch::run() {
    if (_ran) co_return;
    _ran = true;
    co_await dispatch{*this};
    if (_owner) co_await await_durable(*_owner);
}

void write_batch::answer(std::size_t index, net::http::response_writer& writer) const {
    RINGKV_ASSERT(_ran && index < _count);
    const write& w = _writes[index];
    switch (w.what) {
        case write::kind::refused: net::http::write_error(writer, *w.refusal); return;
        case write::kind::put: write_put_answer(w.durable ? w.put_result : put_outcome::storage_full, writer); return;
        case write::kind::erase: write_delete_answer(w.ticket.has_value() && w.durable, writer); return;
    }
}

void write_batch::clear() {
    for (std::size_t i = 0; i < _count; ++i) {
        write& w = _writes[i];
        if (w.value.capacity() > kept_value_bytes_max) {
            std::string().swap(w.value);
        } else {
            w.value.clear();
        }
        w.refusal.reset();
    }
    _count = 0;
    _ran = false;
    _owner.reset();
}

}  // namespace ringkv::api
