#pragma once
// File verbs on io_uring, as awaitables (io/ops.hh's operation): each
// yields the CQE's result, bytes or -errno. Pointers passed in (paths,
// buffers, the timespec) must stay alive until the operation resumes: keep
// them in the awaiting coroutine's frame.

#include <ringkv/io/ops.hh>

#include <fcntl.h>
#include <liburing.h>

#include <cstdint>

namespace ringkv::persist {

// Every file ringkv makes in --data-dir is new and private: O_EXCL, so a
// name already taken (a stray file, a generation that came round again) is
// an error and never a file truncated; O_NOFOLLOW, so a symlink in its
// place is not followed; 0600, as the files hold the organizations' bearer
// tokens. (O_CLOEXEC is added by the callers that need it.)
constexpr int new_file_flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
constexpr mode_t new_file_mode = 0600;

inline auto write_at(int fd, const char* data, unsigned bytes, std::uint64_t offset) {
    auto prepare = [=](io_uring_sqe* e) { io_uring_prep_write(e, fd, data, bytes, offset); };
    return io::operation<decltype(prepare)>{prepare};
}

inline auto read_at(int fd, void* into, unsigned bytes, std::uint64_t offset) {
    auto prepare = [=](io_uring_sqe* e) { io_uring_prep_read(e, fd, into, bytes, offset); };
    return io::operation<decltype(prepare)>{prepare};
}

// fdatasync: the data and the size, not the times (a log's appends).
inline auto sync_data(int fd) {
    auto prepare = [fd](io_uring_sqe* e) { io_uring_prep_fsync(e, fd, IORING_FSYNC_DATASYNC); };
    return io::operation<decltype(prepare)>{prepare};
}

// fsync: everything, as a directory's new entries need.
inline auto sync_all(int fd) {
    auto prepare = [fd](io_uring_sqe* e) { io_uring_prep_fsync(e, fd, 0); };
    return io::operation<decltype(prepare)>{prepare};
}

inline auto open_at(const char* path, int flags, mode_t mode) {
    auto prepare = [=](io_uring_sqe* e) { io_uring_prep_openat(e, AT_FDCWD, path, flags | O_CLOEXEC, mode); };
    return io::operation<decltype(prepare)>{prepare};
}

inline auto rename_at(const char* from, const char* to) {
    auto prepare = [=](io_uring_sqe* e) { io_uring_prep_renameat(e, AT_FDCWD, from, AT_FDCWD, to, 0); };
    return io::operation<decltype(prepare)>{prepare};
}

inline auto unlink_at(const char* path) {
    auto prepare = [=](io_uring_sqe* e) { io_uring_prep_unlinkat(e, AT_FDCWD, path, 0); };
    return io::operation<decltype(prepare)>{prepare};
}

// Resumes after `wait` (a timeout with no completion count: -ETIME is the
// normal result).
inline auto sleep_for(__kernel_timespec* wait) {
    auto prepare = [wait](io_uring_sqe* e) { io_uring_prep_timeout(e, wait, 0, 0); };
    return io::operation<decltype(prepare)>{prepare};
}

}  // namespace ringkv::persist
