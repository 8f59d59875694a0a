#include "app.hh"
#include "persistence.hh"

#include <ringkv/api/service.hh>
#include <ringkv/base/clock.hh>
#include <ringkv/base/limits.hh>
#include <ringkv/control/admin.hh>
#include <ringkv/control/steering.hh>
#include <ringkv/control/steering_routes.hh>
#include <ringkv/control/observer.hh>
#include <ringkv/control/observing.hh>
#include <ringkv/io/cluster.hh>
#include <ringkv/io/loop.hh>
#include <ringkv/net/server.hh>
#include <ringkv/store/shard.hh>

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <latch>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

namespace ringkv::app {
namespace {

// glibc's allocator, tuned for a store that frees in bulk (expiry, purges):
// - no automatic trimming: a mass expiry coalesces freed items at the top of
//   the heap, and giving it back to the kernel inside free() stalled a
//   reclaim step for 3-5 ms (measured on 1M expiring keys); the memory is
//   kept for the next keys instead, so RSS does not shrink;
// - values up to 1 MiB come from the heap, not from one mmap/munmap pair per
//   PUT (glibc's default mmap threshold is 128 KiB).
constexpr int malloc_trim_threshold_bytes = 1 << 30;
constexpr int malloc_mmap_threshold_bytes = 4 << 20;

// Time one background step may take (see the on_idle hook below).
constexpr std::uint64_t background_step_ns = 100'000;

void tune_allocator() {
    mallopt(M_TRIM_THRESHOLD, malloc_trim_threshold_bytes);
    mallopt(M_MMAP_THRESHOLD, malloc_mmap_threshold_bytes);
}


std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
        }
    }
    return cpus;
}

// Start-up is the one place threads meet outside the mailboxes: each core
// builds its ring on its own thread (SINGLE_ISSUER binds a ring to the
// thread that made it), reports, and waits for the verdict.
struct startup {
    explicit startup(unsigned cores) : built(cores), restored(cores), shards(cores, nullptr), shards_published(cores) {}
    std::latch built;
    std::latch restored;  // each core has taken its share of --data-dir
    std::latch verdict{1};
    // Every core's shard, published before any core serves a request (a
    // GET may read any of them, store/concurrent_read.hh).
    api::shard_directory shards;
    std::latch shards_published;
    std::atomic<bool> ok{true};
    std::atomic<bool> plain_ring{false};  // some core fell back to a ring without DEFER_TASKRUN
    std::mutex error_lock;  // start-up only, never on the request path
    std::string error;

    void fail(const std::string& text) {
        std::lock_guard guard(error_lock);
        if (error.empty()) error = text;
        ok = false;
    }
};

net::server_options server_options_of(const config::config& settings) {
    net::server_options o;
    o.bind_address = settings.server.bind_address;
    o.port = settings.server.port;
    o.connections_per_core = settings.server.connections_per_core;
    o.header_timeout_ms = settings.server.header_timeout_ms;
    o.idle_timeout_ms = settings.server.idle_timeout_ms;
    o.node_name = settings.server.node_name;
    o.observe = settings.observe.metrics || settings.observe.journal_entries != 0;
    o.server_timing = settings.observe.server_timing;
    return o;
}

// The memory budget (--max-memory), split so that no lock is ever taken to
// check it: a sixteenth for the namespace registry (the authority core
// counts its replica once per core, since every core holds one), and the
// rest in equal shares, one per core, for the keys that core owns. Keys are
// spread over the cores by the secret hash, so the shares fill at the same
// rate; a core whose share is full answers 507 while another may have a
// little room left. Bound: what the store counts (shard.hh, namespaces.hh)
// never passes max_memory_bytes in total.
constexpr std::uint64_t namespace_share_divisor = 16;

std::uint64_t namespace_share_bytes(const config::config& settings) {
    return settings.max_memory_bytes / namespace_share_divisor;
}

std::size_t item_share_bytes(const config::config& settings, unsigned cores) {
    return std::size_t((settings.max_memory_bytes - namespace_share_bytes(settings)) / cores);
}

// The least a core's share may be: an empty shard must accept one largest
// write (a 1 MiB value with the longest key and inline Content-Type the
// store holds, and a TTL), with room to spare for a few small keys and the
// table's first growth. Below it every 1 MiB PUT is 507 on an empty server.
constexpr std::size_t item_share_margin_bytes = 64 * 1024;

std::size_t item_share_bytes_min() {
    const std::string longest_type(store::item::content_type_bytes_max, 't');  // not a well-known type: stored inline
    const std::size_t largest_item =
        store::item::allocation_bytes(store::item::key_bytes_max, limits::body_bytes_max, longest_type, true) +
        store::shard::allocator_overhead_bytes;
    const std::size_t empty_shard = store::shard(0).memory_bytes();  // its first table's slots
    return empty_shard + largest_item + item_share_margin_bytes;
}

// The least --max-memory for `cores` threads, rounded up to a whole MiB.
std::uint64_t max_memory_bytes_min(unsigned cores) {
    constexpr std::uint64_t mib = 1 << 20;
    const std::size_t share_min = item_share_bytes_min();
    config::config probe;
    probe.max_memory_bytes = mib;
    while (item_share_bytes(probe, cores) < share_min) probe.max_memory_bytes += mib;
    return probe.max_memory_bytes;
}

api::api_options api_options_of(const config::config& settings) {
    api::api_options o;
    if (settings.api.tokens) o.tokens.emplace(settings.api.tokens->begin(), settings.api.tokens->end());
    o.provision_delay_ms = settings.api.provision_delay_ms;
    o.delete_delay_ms = settings.api.delete_delay_ms;
    o.default_ttl_support = settings.api.default_ttl_support;
    o.namespaces_per_organization = settings.api.namespaces_per_organization;
    o.namespace_bytes_max = std::size_t(namespace_share_bytes(settings));
    // Signs listing cursors; new per process, so a restarted server refuses old ones.
    o.cursor_secret = std::random_device{}() * 0x9e3779b97f4a7c15ull ^ std::random_device{}();
    return o;
}

// What every core's observer shares: the options, and the table of them.
struct observing {
    observing(const config::config& settings, unsigned cores) : all(cores) {
        options.metrics = settings.observe.metrics;
        options.server_timing = settings.observe.server_timing;
        options.journal_entries = settings.observe.journal_entries;
    }
    control::observe_options options;
    control::observers all;
};

// The control plane's routes (/metrics, /_ringkv/...), built once before
// the cores start and read by all of them.
io::task<control::reset_result> reset_for_control(std::optional<std::string> organization) {
    const api::reset_outcome done = co_await api::reset_state(std::move(organization));
    co_return control::reset_result{done.namespaces, done.durable};
}

control::admin_table admin_routes_of(const config::config& settings, const observing& watch) {
    control::admin_table table({settings.admin.token, settings.admin.enabled});
    control::add_steering_routes(table, reset_for_control, api::record_clock);
    control::add_observing_routes(table, watch.all, watch.options);
    return table;
}

// --rules FILE, read once before the cores start; each core compiles its
// own copy. Empty when no file is given; an error ends the start.
std::variant<std::vector<control::rule_spec>, std::string> start_rules_of(const config::config& settings) {
    if (settings.control.rules_file.empty()) return std::vector<control::rule_spec>{};
    auto rules = control::read_rules_file(settings.control.rules_file);
    if (auto* list = std::get_if<std::vector<control::rule_spec>>(&rules)) {
        control::start_expiry(*list, base::monotonic_ms());  // the loops' clock, before any advance
    }
    return rules;
}

void run_core(unsigned core, int cpu, const config::config& settings, const net::server_options& server_options,
              const api::api_options& api_options, const control::admin_table& admin,
              const std::vector<control::rule_spec>& start_rules, persistence& stored, observing& watch,
              io::cluster& peers, int listen_fd, startup& start) {
    std::unique_ptr<io::loop> loop;
    try {
        io::loop_options options;
        options.core = core;
        options.cpu = cpu;
        options.drain_timeout_ms = settings.drain_timeout_ms;
        options.handle_signals = core == 0;
        loop = std::make_unique<io::loop>(peers, options);
        if (!loop->single_issuer()) start.plain_ring = true;
    } catch (const std::exception& e) {
        start.fail(e.what());
    }
    start.built.count_down();
    start.verdict.wait();
    if (!start.ok) return;

    api::core_state state(loop->now_ms(), item_share_bytes(settings, loop->core_count()), &peers.quiescent(), core);
    start.shards[core] = &state.keys;
    start.shards_published.arrive_and_wait();  // the latch orders the writes before every read
    state.shards = &start.shards;
    api::core_state::set_local(&state);
    io::loop& here = *loop;
    core_persistence journal(stored, here, state);
    std::string restore_error = stored.restore(core, state, here);
    if (restore_error.empty()) restore_error = journal.start();
    if (!restore_error.empty()) start.fail(restore_error);
    start.restored.count_down();
    start.restored.wait();
    if (!start.ok) return;
    // Unlinked items and old tables are freed once no other core can still
    // be reading them. Their age is real time: the loop's clock may carry
    // the virtual clock's offset.
    loop->on_iteration([&state] { state.keys.end_iteration(base::monotonic_ms()); });
    // Expiry and namespace purges, in steps between requests: at most 2,048
    // keys and about background_step_ns each, so a mass expiry delays a
    // request by a tenth of a millisecond at a time. While it has more to
    // retire or free at an iteration's end, the loop keeps iterating in its
    // idle moments (from the next tick on if it was asleep), each iteration
    // a step, which the background allowance does not count.
    loop->on_idle([&state, &here] {
        store::step_budget budget;
        budget.clock_ns = &base::monotonic_ns;
        budget.deadline_ns = base::monotonic_ns() + background_step_ns;
        const bool more = state.keys.background_step({here.now_ms(), here.wall_s()}, budget);
        return more || state.keys.reclaim_pending();
    });
    // Deleted namespaces are forgotten once their deletion delay has passed.
    loop->on_tick([&state, &here] { state.namespaces.collect_gone(here.now_ms()); });
    control::steering steering(std::random_device{}() ^ (std::uint64_t(core) << 32));
    control::steering::set_local(&steering);
    if (!start_rules.empty()) {
        steering.install(1, start_rules);
        if (core == 0) steering.kept() = {1, start_rules};
    }
    control::observer observer(core, watch.options, base::monotonic_ns());
    watch.all.set(core, &observer);  // before the loop runs: no scrape reaches this core sooner
    api::service service(api_options, admin, steering, observer);
    net::server server(*loop, listen_fd, service, server_options);
    control::add_core_collectors(observer.metrics(), {server, state.keys, state.namespaces, *loop});
    control::add_injected_collector(observer.metrics(), steering);
    journal.add_collector(observer.metrics());
    server.start();
    loop->run();
    api::core_state::set_local(nullptr);
    control::steering::set_local(nullptr);
    const net::server::counters& seen = server.stats();
    std::fprintf(stderr, "ringkv: core %u: %lu connections, %lu refused over the bound, %lu cut on a timeout\n", core,
                 static_cast<unsigned long>(seen.accepted), static_cast<unsigned long>(seen.rejected_over_limit),
                 static_cast<unsigned long>(seen.timed_out));
}

// The memory bound must give every thread's share room for one largest
// value. A bound given on the command line that is too small is refused,
// naming the minimum; the default (half of the machine or of the cgroup) is
// raised to the minimum instead, so a server started without flags starts
// even with many CPUs in a small container. False: refused.
bool settle_memory_bound(config::config& settings, unsigned cores) {
    const std::uint64_t least = max_memory_bytes_min(cores);
    if (settings.max_memory_bytes >= least) return true;
    if (!settings.max_memory_given) {
        std::fprintf(stderr, "ringkv: the default memory bound %llu is too small for %u threads; using %llu\n",
                     static_cast<unsigned long long>(settings.max_memory_bytes), cores,
                     static_cast<unsigned long long>(least));
        settings.max_memory_bytes = least;
        return true;
    }
    std::fprintf(stderr,
                 "ringkv: --max-memory %llu is too small for %u threads: each thread's share must hold one 1 MiB "
                 "value; the minimum is %llu (%lluM) (see --help)\n",
                 static_cast<unsigned long long>(settings.max_memory_bytes), cores,
                 static_cast<unsigned long long>(least), static_cast<unsigned long long>(least >> 20));
    return false;
}

// Every connection is a file descriptor, so the connection bound means
// little if the process may not open that many: past the open-file limit
// new connections wait unaccepted instead of getting the bound's 503. The
// soft limit (often 1024 from a shell) is raised as far as the hard one
// allows, as nginx's worker_rlimit_nofile does; if even that is short,
// start anyway but say so.
constexpr rlim_t files_per_core = 4;      // listening socket, io_uring, and spares
constexpr rlim_t files_per_process = 64;  // stdio, --tokens, --data-dir files, ...

void raise_open_file_limit(unsigned cores, unsigned connections_per_core) {
    const rlim_t needed = rlim_t(cores) * (connections_per_core + files_per_core) + files_per_process;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = std::min(needed, limit.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < needed) {
        std::fprintf(stderr,
                     "ringkv: warning: the open-file limit is %llu, short of the %llu that %u threads of "
                     "--connections-per-core %u need; past it new connections wait unaccepted (raise ulimit -n, "
                     "or LimitNOFILE= in a systemd unit)\n",
                     static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(needed), cores,
                     connections_per_core);
    }
}

}  // namespace

int run(const config::config& given) {
    tune_allocator();
    config::config settings = given;
    const std::vector<int> cpus = allowed_cpus();
    const unsigned cores = settings.threads != 0 ? settings.threads
                                                 : std::max(1u, std::min(unsigned(cpus.size()), limits::cores_max));
    if (!settle_memory_bound(settings, cores)) return 2;
    raise_open_file_limit(cores, settings.server.connections_per_core);
    const net::server_options server_options = server_options_of(settings);
    const api::api_options api_options = api_options_of(settings);
    observing watch(settings, cores);
    control::admin_table admin = admin_routes_of(settings, watch);
    const auto start_rules = start_rules_of(settings);
    if (const auto* error = std::get_if<std::string>(&start_rules)) {
        std::fprintf(stderr, "ringkv: %s\n", error->c_str());
        return 2;
    }
    const auto& rules = std::get<std::vector<control::rule_spec>>(start_rules);
    persistence stored(settings, cores);
    if (const std::string error = stored.prepare(); !error.empty()) {
        std::fprintf(stderr, "ringkv: %s\n", error.c_str());
        return 1;
    }
    stored.add_routes(admin);
    // Signals become a signalfd read on core 0; no thread takes them async.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    net::listeners sockets;
    if (const std::string error = sockets.open(server_options, cores); !error.empty()) {
        std::fprintf(stderr, "ringkv: %s\n", error.c_str());
        return 1;
    }

    io::cluster peers(cores);
    startup start(cores);
    std::vector<std::thread> threads;
    const auto cpu_of = [&](unsigned core) { return cpus.empty() ? -1 : cpus[core % cpus.size()]; };
    // A thread the kernel refuses (std::system_error: RLIMIT_NPROC, a stack
    // that cannot be mapped) is a start-up error like the others, said in
    // one line: the cores already started wait for the verdict, and get it.
    const auto not_started = [&](const std::string& what, const std::system_error& e) {
        start.fail("starting " + what + ": " + e.what());
        start.verdict.count_down();
        for (std::thread& t : threads) t.join();
        std::fprintf(stderr, "ringkv: %s\n", start.error.c_str());
        return 1;
    };
    for (unsigned core = 1; core < cores; ++core) {
        try {
            threads.emplace_back(run_core, core, cpu_of(core), std::cref(settings), std::cref(server_options),
                                 std::cref(api_options), std::cref(admin), std::cref(rules), std::ref(stored),
                                 std::ref(watch), std::ref(peers), sockets.fd(core), std::ref(start));
        } catch (const std::system_error& e) {
            return not_started("core " + std::to_string(core) + "'s thread", e);
        }
    }
    std::thread verdict;
    try {
        verdict = std::thread([&] {
            start.built.wait();
            if (start.ok) sockets.release();  // each server owns its socket from here on
            const bool built = start.ok;
            start.verdict.count_down();
            if (built) start.restored.wait();
            if (start.ok) {
                std::printf("ringkv listening on http://%s:%u (%u threads, max memory %llu bytes, %s)\n",
                            settings.server.bind_address.c_str(), unsigned(sockets.port()), cores,
                            static_cast<unsigned long long>(settings.max_memory_bytes),
                            start.plain_ring ? "plain io_uring: this kernel lacks DEFER_TASKRUN"
                                             : "io_uring with SINGLE_ISSUER and DEFER_TASKRUN");
                std::fflush(stdout);
            }
        });
    } catch (const std::system_error& e) {
        return not_started("the thread that waits for every core to start", e);
    }
    run_core(0, cpu_of(0), settings, server_options, api_options, admin, rules, stored, watch, peers, sockets.fd(0), start);
    verdict.join();
    for (std::thread& t : threads) t.join();
    if (!start.ok) {
        std::fprintf(stderr, "ringkv: %s\n", start.error.c_str());
        return 1;
    }
    return stored.all_saved() ? 0 : 1;  // (each core said what it lost)
}

}  // namespace ringkv::app
