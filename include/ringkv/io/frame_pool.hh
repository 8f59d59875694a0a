#pragma once
// Per-thread free lists for coroutine frames, so a request's coroutine does
// not reach malloc once the pool is warm. Frames never migrate between
// threads in ringkv (a cross-core call runs a plain function on the other
// core; the coroutine stays home), so the pool needs no synchronisation.

#include <cstddef>

namespace ringkv::io::frame_pool {

void* allocate(std::size_t bytes);
void deallocate(void* frame, std::size_t bytes) noexcept;

}  // namespace ringkv::io::frame_pool
