#pragma once
// Every fixed bound of the server in one place, each with its reason.
// Bounds a user may tune are defaults here and flags in config/.

#include <cstddef>
#include <cstdint>

namespace ringkv::limits {

// --- HTTP (API.md, "HTTP behaviour") ---------------------------------------
// A request target longer than this is answered 414.
inline constexpr std::size_t target_bytes_max = 8 * 1024;
// A header block (everything after the request line) longer than this is 431.
inline constexpr std::size_t header_block_bytes_max = 16 * 1024;
// The read buffer must hold one whole request head (request line + header
// block) so the parser can hand out views into it; the rest is slack for
// pipelined bytes.
inline constexpr std::size_t request_line_overhead_bytes = 64;
inline constexpr std::size_t head_bytes_max =
    target_bytes_max + header_block_bytes_max + request_line_overhead_bytes;
inline constexpr std::size_t read_buffer_bytes = 32 * 1024;
// Smallest free space worth a recv; below it the buffer is compacted first.
inline constexpr std::size_t recv_bytes_min = 4 * 1024;
// Room remains for a recv whatever the input: a partial head is at most
// head_bytes_max (longer is 414/431) and moves to the buffer's start when
// compacted; a complete head is placed so that recv_bytes_min follows it and
// stays there while its body is read (body bytes are copied out as they
// arrive); between messages everything moves.
static_assert(read_buffer_bytes >= head_bytes_max + recv_bytes_min,
              "a whole head plus one recv must fit in the read buffer");
// A chunk-size line (hex size, extensions, CRLF) longer than this is 400;
// extensions are ignored, so they get no more room than a header line.
inline constexpr std::size_t chunk_line_bytes_max = 4 * 1024;
// Trailer fields after a chunked body, counted like a header block (431).
inline constexpr std::size_t trailer_bytes_max = header_block_bytes_max;

// Largest request body any route accepts: a key value of 1 MiB (the seed).
inline constexpr std::size_t body_bytes_max = 1024 * 1024;
// A connection keeps its body buffer between requests up to this size; a
// larger one (after a big PUT) is given back when its message is finished
// (the handler has run), before the connection waits for the next request,
// so idle connections do not each hold a megabyte.
inline constexpr std::size_t retained_body_bytes_max = 64 * 1024;
// A rejected request's body is read and thrown away up to this size so the
// connection stays usable; past it the server answers and closes.
inline constexpr std::size_t discarded_body_bytes_max = body_bytes_max;

// Pipelined responses are batched into one send; once this much is pending,
// it is sent before more requests are parsed (bounds the output buffer to
// this plus one response).
inline constexpr std::size_t output_flush_bytes = 64 * 1024;
// After a flush the output buffer keeps its capacity up to this size, so a
// pipelined batch (output_flush_bytes plus one small response, which string
// growth may round up to twice that) allocates nothing; a bigger one (a long
// key listing) is given back, so idle connections do not each hold it.
inline constexpr std::size_t retained_output_bytes_max = 2 * output_flush_bytes;

// Responses a connection has written but not yet handed to the kernel,
// while it observes them (their server time ends at the send): one more
// flushes first. 32 covers the benchmarks' 16-deep pipelining with room for
// a read that catches one and a half batches; 40 bytes each.
inline constexpr std::size_t answers_unsent_max = 32;
// Pipelined writes one connection may hold for one batch (net/http/handler.hh,
// deferred answers): the benchmarks' 16-deep pipelining in one message per
// owner core. Below answers_unsent_max, so a batch's answers fit among
// those not yet sent.
inline constexpr std::size_t deferred_answers_max = 16;
static_assert(deferred_answers_max < answers_unsent_max);

// After a response that closes the connection, unread input is drained for at
// most this long so the client sees the response rather than a reset.
inline constexpr std::uint32_t linger_ms = 1000;
inline constexpr std::size_t linger_bytes_max = 2 * 1024 * 1024;

// --- Loop --------------------------------------------------------------------
// Submission queue entries per ring; completions get twice as many so a burst
// of multishot completions does not overflow.
inline constexpr unsigned ring_entries = 4096;
// Completions reaped per batch before their callbacks run.
inline constexpr unsigned cqe_batch_max = 256;
// The loop's tick: deadlines, the Date header and expiry run on it.
inline constexpr std::uint32_t tick_ms = 10;
// Cores supported; cross-core queues are allocated for every ordered pair.
inline constexpr unsigned cores_max = 256;
// Entries per single-producer single-consumer queue (one per ordered core
// pair). A full queue parks the sender, so this bounds memory, not correctness.
inline constexpr std::size_t mailbox_entries = 4096;
// Messages drained from one mailbox per loop iteration, so one busy peer
// cannot starve the others or the core's own sockets.
inline constexpr std::size_t mailbox_drain_max = 1024;

// Pause-instruction iterations a core watches for replies to its
// cross-core calls before it sleeps: a few microseconds. Measured with
// bench/kv.sh on 2 cores: 32-128 all cut CPU per GET by ~18%; 2048 was
// worse than none (the spin starves the other threads).
inline constexpr unsigned reply_spin_iterations = 64;

// Background work (expiry, purges) runs in idle moments but at most this
// much per tick, so under load it takes a quarter of the core and requests
// keep the rest (at 50% load a mass expiry otherwise took two thirds and
// queues grew to tens of ms, measured with bench/latency.sh).
inline constexpr std::uint64_t background_ns_per_tick = std::uint64_t(tick_ms) * 1'000'000 / 4;

// Coroutine frames up to this size come from a per-core pool, each size class
// keeping at most frame_pool_cached_max free frames.
inline constexpr std::size_t frame_pool_bytes_max = 4096;
inline constexpr std::size_t frame_pool_cached_max = 4096;

// --- Defaults of tunable bounds ----------------------------------------------
inline constexpr unsigned connections_per_core_default = 4096;
inline constexpr std::uint32_t header_timeout_ms_default = 10'000;
inline constexpr std::uint32_t idle_timeout_ms_default = 60'000;
inline constexpr std::uint32_t drain_timeout_ms_default = 5'000;

}  // namespace ringkv::limits
