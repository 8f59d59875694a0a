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
    write& w = _writes[_count++];
    w.hash = hash;
    w.namespace_number = p.namespace_number;
    w.owner = store::shard_of(hash, io::loop::current().core_count());
    w.key_bytes = p.key_bytes;
    std::copy_n(p.key, p.key_bytes, w.key);
    w.ttl_ms = p.ttl_ms;
    w.ticket = 0;
    w.durable = true;
    if (request.head.method != net::http::method::put) {
        w.what = write::kind::erase;
        return true;
    }
    w.refusal = put_refusal(request);
    if (w.refusal) {
        w.what = write::kind::refused;
        return true;
    }
    w.what = write::kind::put;
    w.content_type.assign(content_type_of(request));
    w.value.clear();
    w.value.swap(request.body);  // the parser gets an empty buffer back
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
        if (--batch->_pending == 0) batch->_waiter.resume();
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
    _pending = 0;
    // One leg per other owner, all sent before this core runs its own
    // writes: the owners work at the same time.
    for (std::size_t i = 0; i < _count; ++i) {
        const unsigned owner = _writes[i].owner;
        if (owner == here.core()) continue;
        const bool sent = std::any_of(_legs.begin(), _legs.begin() + _pending,
                                      [owner](const leg& l) { return l.target == owner; });
        if (sent) continue;
        leg& l = _legs[_pending++];
        l.batch = this;
        l.target = owner;
        l.home = here.core();
        l.answered = false;
        here.call_sent();
        here.send(owner, l);
    }
    const unsigned legs = _pending;
    run_on(here.core());  // replies cannot run before this returns: same thread
    return legs > 0;
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
    for (std::size_t i = 0; i < _count; ++i) {
        const unsigned owner = _writes[i].owner;
        bool first = true;
        for (std::size_t j = 0; j < i; ++j) first = first && _writes[j].owner != owner;
        if (first) co_await await_durable(owner);
    }
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
        if (w.value.capacity() > limits::retained_body_bytes_max) {
            std::string().swap(w.value);
        } else {
            w.value.clear();
        }
        w.refusal.reset();
    }
    _count = 0;
    _ran = false;
}

}  // namespace ringkv::api
