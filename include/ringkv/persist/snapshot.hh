#pragma once
// Taking a snapshot, from any core (POST /_ringkv/snapshot, the
// --snapshot-every-s timer, SIGTERM):
//
// 1. core 0 hands out the generation G (one snapshot at a time), and every
//    core's log of G is made (all before any is written: create_logs_now in
//    journal.hh tells why);
// 2. the cut: every core in turn, core 0 last, moves to its log of G, freezes
//    its keys and starts writing its part file (journal::cut). Core 0 comes
//    last because namespace changes start there: one made after core 0's
//    cut reaches the other cores after theirs, and one made before it is in
//    core 0's copy of the registry, so the snapshot never holds a namespace
//    in two states;
// 3. every core releases the writes it held since its cut (no client saw a
//    write after the cut before every core had cut);
// 4. the part writer's thread (part_writer.hh) writes each core's part at
//    idle priority while the cores serve requests, fsyncs it and renames
//    it into place; each core thaws its keys once its part is done, and
//    then tells the coordinator, which waits for each core's word
//    (journal::when_part_written) and never asks again and again;
// 5. the snapshot file (namespaces, the parts' sizes and record counts, the
//    clock's lead, the log set of G) is
//    written, fsync'd, renamed into place and the directory fsync'd: from
//    here the snapshot is the one a restart loads;
// 6. only then are older snapshots and the logs before G removed, by the
//    part writer's thread, paced and in steps (part_writer.hh), after the
//    snapshot is answered.

#include <ringkv/io/task.hh>
#include <ringkv/persist/journal.hh>

#include <cstdint>
#include <string>

namespace ringkv::persist {

struct snapshot_outcome {
    bool ok = false;
    bool busy = false;  // another snapshot is being written
    std::string error;
    std::string path;
    std::uint64_t generation = 0;
    std::uint64_t keys = 0;
    std::uint64_t bytes = 0;
    double ms = 0;
};

// Runs on the calling core; `options` outlives it.
io::task<snapshot_outcome> take_snapshot(const persist_options& options);

}  // namespace ringkv::persist
