#pragma once
// The snapshot writer's pace: a byte rate, kept as the time its next byte
// is due. No burst: each write waits until the bytes before it are due,
// so only the first write after a pause goes at once.
//
// Why a pace at all: idle priority (part_writer.hh) keeps the writer off a
// CPU a loop wants, but not off the machine's whole CPU budget. Under a
// CPU quota (a container's cpu.max, or a virtual machine whose host also
// charges it for emulating its disk) the time the writer and its disk
// writes take comes out of the same quota as the loops: used up before the
// quota's period ends, every thread of the server waits for the next one
// (3-15 ms at a time, measured). A pace spreads a snapshot's writes so
// that they stay inside what the loops leave over. A burst of a second's
// worth at the start was tried and dropped: it brought such pauses back
// about a second into each snapshot.

#include <algorithm>
#include <cstdint>

namespace ringkv::persist {

class write_pace {
public:
    // bytes_per_s 0: no pace.
    explicit write_pace(std::uint64_t bytes_per_s) : _bytes_per_s(bytes_per_s) {}

    // Before writing `bytes` at now_ns (a monotonic clock): how long to
    // wait first (0: write now). Counts the bytes as written at that time.
    std::uint64_t wait_ns(std::uint64_t now_ns, std::uint64_t bytes) {
        if (_bytes_per_s == 0) return 0;
        const std::uint64_t at_ns = std::max(now_ns, _due_ns);
        // bytes * 1e9 overflows only past 18 GB in one write: the writer's
        // buffers are about a MiB.
        _due_ns = at_ns + bytes * ns_per_s / _bytes_per_s;
        return at_ns - now_ns;
    }

    bool paced() const { return _bytes_per_s != 0; }
    std::uint64_t bytes_per_s() const { return _bytes_per_s; }

private:
    static constexpr std::uint64_t ns_per_s = 1'000'000'000;
    const std::uint64_t _bytes_per_s;
    // When the bytes counted so far are paid for: the next write may start.
    std::uint64_t _due_ns = 0;
};

}  // namespace ringkv::persist
