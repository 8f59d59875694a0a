#include <ringkv/io/frame_pool.hh>
#include <ringkv/io/task.hh>

#include <gtest/gtest.h>

#include <string>

namespace ringkv::io {
namespace {

task<int> add(int a, int b) { co_return a + b; }

task<std::string> nested(int depth) {
    if (depth == 0) co_return std::string("leaf");
    std::string below = co_await nested(depth - 1);
    co_return below + "+" + std::to_string(co_await add(depth, 0));
}

task<> record(std::string& out) {
    out = co_await nested(3);
}

TEST(task, awaits_nested_tasks_and_returns_values) {
    std::string result;
    spawn(record(result));  // nothing suspends on I/O, so it finishes at once
    EXPECT_EQ(result, "leaf+1+2+3");
}

TEST(frame_pool, reuses_freed_frames) {
    void* first = frame_pool::allocate(200);
    frame_pool::deallocate(first, 200);
    void* second = frame_pool::allocate(250);  // same 64-byte size class (193..256)
    EXPECT_EQ(first, second);
    frame_pool::deallocate(second, 250);
    void* big = frame_pool::allocate(100'000);  // past the pool: plain heap
    frame_pool::deallocate(big, 100'000);
}

}  // namespace
}  // namespace ringkv::io
