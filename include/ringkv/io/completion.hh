#pragma once

#include <cstdint>

namespace ringkv::io {

// The owner of one in-flight io_uring operation: its address is the SQE's
// user_data, and complete() receives each CQE for it (several for multishot
// operations, IORING_CQE_F_MORE set on all but the last). The caller keeps it
// alive until the last CQE.
class completion {
public:
    virtual void complete(std::int32_t result, std::uint32_t flags) = 0;

protected:
    ~completion() = default;
};

// Work sent to another core: run() executes on the receiving core's thread.
// The sender keeps the message alive until it hears back (a cross-core call
// sends the same message back with its reply).
class message {
public:
    virtual void run() = 0;
    message* next_parked = nullptr;  // intrusive link, used by the sending loop only

protected:
    ~message() = default;
};

}  // namespace ringkv::io
