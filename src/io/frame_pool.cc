#include <ringkv/io/frame_pool.hh>

#include <ringkv/base/limits.hh>

#include <array>
#include <new>

namespace ringkv::io::frame_pool {
namespace {

constexpr std::size_t class_bytes = 64;
constexpr std::size_t class_count = limits::frame_pool_bytes_max / class_bytes;

struct free_frame {
    free_frame* next;
};

struct size_class {
    free_frame* head = nullptr;
    std::size_t cached = 0;
};

struct pool {
    std::array<size_class, class_count> classes{};
    ~pool() {
        for (auto& c : classes) {
            while (c.head != nullptr) {
                free_frame* f = c.head;
                c.head = f->next;
                ::operator delete(f);
            }
        }
    }
};

thread_local pool local_pool;

std::size_t class_of(std::size_t bytes) { return (bytes + class_bytes - 1) / class_bytes - 1; }

}  // namespace

void* allocate(std::size_t bytes) {
    if (bytes == 0 || bytes > limits::frame_pool_bytes_max) return ::operator new(bytes);
    size_class& c = local_pool.classes[class_of(bytes)];
    if (c.head == nullptr) return ::operator new((class_of(bytes) + 1) * class_bytes);
    free_frame* f = c.head;
    c.head = f->next;
    --c.cached;
    return f;
}

void deallocate(void* frame, std::size_t bytes) noexcept {
    if (bytes == 0 || bytes > limits::frame_pool_bytes_max) {
        ::operator delete(frame);
        return;
    }
    size_class& c = local_pool.classes[class_of(bytes)];
    if (c.cached >= limits::frame_pool_cached_max) {
        ::operator delete(frame);
        return;
    }
    c.head = new (frame) free_frame{c.head};
    ++c.cached;
}

}  // namespace ringkv::io::frame_pool
