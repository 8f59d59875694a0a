#pragma once
// Connections waiting on one kind of deadline (head, idle, ...). Every
// deadline in a list has the same duration, so appending at the tail keeps
// the list sorted: arming and disarming are O(1), and expiry pops from the
// head until it meets a deadline still in the future.

#include <cstdint>

namespace ringkv::net {

class deadline_list;

struct deadline_hook {
    deadline_hook* prev = nullptr;
    deadline_hook* next = nullptr;
    deadline_list* owner = nullptr;
    std::uint64_t deadline_ms = 0;

    bool armed() const { return owner != nullptr; }
};

class deadline_list {
public:
    explicit deadline_list(std::uint64_t duration_ms) : _duration_ms(duration_ms) {}
    deadline_list(const deadline_list&) = delete;
    deadline_list& operator=(const deadline_list&) = delete;

    // (Re)starts the hook's deadline now + duration in this list.
    void arm(deadline_hook& hook, std::uint64_t now_ms) {
        disarm(hook);
        hook.deadline_ms = now_ms + _duration_ms;
        hook.owner = this;
        hook.prev = _tail;
        hook.next = nullptr;
        if (_tail != nullptr) _tail->next = &hook; else _head = &hook;
        _tail = &hook;
    }

    // Removes the hook from whichever list holds it.
    static void disarm(deadline_hook& hook) {
        deadline_list* list = hook.owner;
        if (list == nullptr) return;
        if (hook.prev != nullptr) hook.prev->next = hook.next; else list->_head = hook.next;
        if (hook.next != nullptr) hook.next->prev = hook.prev; else list->_tail = hook.prev;
        hook = deadline_hook{};
    }

    // Disarms and passes to on_expired every hook whose deadline has come.
    template <typename Callback>
    void expire(std::uint64_t now_ms, Callback on_expired) {
        while (_head != nullptr && _head->deadline_ms <= now_ms) {
            deadline_hook& hook = *_head;
            disarm(hook);
            on_expired(hook);
        }
    }

    // Disarms and passes every hook to on_each (shutdown).
    template <typename Callback>
    void expire_all(Callback on_each) {
        while (_head != nullptr) {
            deadline_hook& hook = *_head;
            disarm(hook);
            on_each(hook);
        }
    }

private:
    const std::uint64_t _duration_ms;
    deadline_hook* _head = nullptr;
    deadline_hook* _tail = nullptr;
};

}  // namespace ringkv::net
