#pragma once
// --data-dir wired into the server: the start-up checks and load (once,
// before the cores start), each core's restore and journal, and the
// snapshot triggers (POST /_ringkv/snapshot, --snapshot-every-s, SIGTERM).

#include <ringkv/api/service.hh>
#include <ringkv/config/config.hh>
#include <ringkv/control/admin.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/metrics/core_metrics.hh>
#include <ringkv/persist/journal.hh>
#include <ringkv/persist/loader.hh>
#include <ringkv/persist/part_writer.hh>

#include <atomic>
#include <memory>
#include <string>

namespace ringkv::app {

// Process-wide, built before the cores start; afterwards each core reads it
// only (its loaded keys are its own to read and free).
class persistence {
public:
    persistence(const config::config& settings, unsigned cores);
    ~persistence();
    persistence(const persistence&) = delete;
    persistence& operator=(const persistence&) = delete;

    bool enabled() const { return !_options.dir.empty(); }
    // Creates the directory if missing, checks it can be written (a file is
    // written, fsync'd and removed), locks it against a second ringkv,
    // probes the io_uring file operations, loads what it holds, starts the
    // thread that writes the snapshots' parts, and makes this run's logs
    // (one per core, all before any is written).
    // "" or the error to print (exit 1).
    std::string prepare();
    void add_routes(control::admin_table& table) const;
    const persist::persist_options& options() const { return _options; }
    // After prepare(); joined when this ends, after the loops.
    persist::part_writer& parts() const { return *_parts; }

    // On each core, before its loop runs: the virtual clock's lead as the
    // files left it, then its share of the loaded state. "" or the error.
    // The last core to finish prints the summary and frees the loaded files.
    std::string restore(unsigned core, api::core_state& state, io::loop& loop);

    // A core stopped with acknowledged changes that are not durable (its
    // log and the last snapshot could not be written): the process exits
    // with status 1. Any core, as it ends.
    void note_unsaved() { _unsaved_cores.fetch_add(1, std::memory_order_relaxed); }
    bool all_saved() const { return _unsaved_cores.load(std::memory_order_relaxed) == 0; }

private:
    // The part writer's thread; "" or the error.
    std::string start_part_writer();

    persist::persist_options _options;
    unsigned _cores;
    int _lock_fd = -1;
    persist::loaded_state _loaded;
    std::atomic<unsigned> _restored_cores{0};
    std::atomic<std::uint64_t> _restored_keys{0};
    std::atomic<unsigned> _unsaved_cores{0};
    std::unique_ptr<persist::part_writer> _parts;
};

// One core's journal and its snapshot timer, for the loop's lifetime.
class core_persistence {
public:
    // state outlives this; the journal is installed as state.changes.
    core_persistence(persistence& shared, io::loop& loop, api::core_state& state);
    ~core_persistence();
    // Opens the log and registers the loop hooks; "" or the error.
    std::string start();
    // The log's counters (and on core 0 the snapshots') in /metrics.
    void add_collector(metrics::core_metrics& metrics) const;

private:
    persistence& _shared;
    io::loop& _loop;
    api::core_state& _state;
    std::unique_ptr<persist::journal> _journal;
    std::uint64_t _next_snapshot_ms = 0;
};

}  // namespace ringkv::app
