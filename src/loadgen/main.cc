// ringkv-bench: parse the flags, connect, set up the namespace, run the
// threads while printing progress, report, tear down.
#include "report.hh"
#include "runner.hh"
#include "setup.hh"

#include <ringkv/io/cluster.hh>
#include <ringkv/loadgen/options.hh>

#include <csignal>
#include <ctime>
#include <cstdio>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

using namespace ringkv;
using namespace ringkv::loadgen;

namespace {

int fatal(const std::string& text) {
    std::fprintf(stderr, "ringkv-bench: %s\n", text.c_str());
    return 1;
}

void merge(const std::vector<std::unique_ptr<thread_results>>& results, totals& t) {
    for (const auto& r : results) {
        t.latency.merge(r->latency);
        t.completed += r->completed.load(std::memory_order_relaxed);
        t.failed += r->failed.load(std::memory_order_relaxed);
        t.misses += r->misses.load(std::memory_order_relaxed);
        for (std::size_t s = 0; s < t.by_status.size(); ++s) t.by_status[s] += r->by_status[s].load(std::memory_order_relaxed);
        if (t.first_error.empty()) t.first_error = r->first_error;
    }
}

// Every organization's namespace: the --namespace given (checked), or one
// created for each token; then filled unless --no-prefill. Organizations
// set up so far are in `out` even when a later one fails.
std::string prepare(const options& o, std::vector<organization>& out) {
    for (unsigned n = 0; n < o.tokens; ++n) {
        organization each{token_of(o, n), o.namespace_id};
        std::string e = o.namespace_id.empty() ? create_namespace(o, each.token, each.namespace_id)
                                               : check_namespace(o, each.token, each.namespace_id);
        if (!e.empty()) return e;
        out.push_back(std::move(each));
        if (o.prefill) {
            if (e = fill_keys(o, out.back().token, out.back().namespace_id); !e.empty()) return e;
        }
    }
    return {};
}

// Deletes the namespaces the run created; the first failure, if any.
std::string delete_namespaces(const options& o, const std::vector<organization>& organizations) {
    std::string first_error;
    for (const organization& each : organizations) {
        if (std::string e = delete_namespace(o, each.token, each.namespace_id); !e.empty() && first_error.empty()) {
            first_error = e;
        }
    }
    return first_error;
}

// Waits for the threads, printing a progress line each second; SIGINT or
// SIGTERM asks the run to stop early.
void watch(const options& o, const run_plan& plan, std::atomic<bool>& stop, std::atomic<unsigned>& running,
           const std::vector<std::unique_ptr<thread_results>>& results) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    const timespec second{1, 0};
    std::uint64_t last_completed = 0;
    while (running.load() > 0) {
        if (sigtimedwait(&signals, nullptr, &second) > 0) stop = true;
        if (o.quiet || running.load() == 0) continue;
        auto so_far_owner = std::make_unique<histogram>();  // 36 KB: off the stack
        histogram& so_far = *so_far_owner;
        std::uint64_t completed = 0, failed = 0;
        for (const auto& r : results) {
            so_far.merge(r->latency);
            completed += r->completed.load(std::memory_order_relaxed);
            failed += r->failed.load(std::memory_order_relaxed);
        }
        const double elapsed = double(monotonic_ns() - plan.start_ns) / 1e9;
        std::fprintf(stderr, "[%6.1fs] %9lu req/s  errors %lu  p99 so far %s%s\n", elapsed,
                     static_cast<unsigned long>(completed - last_completed), static_cast<unsigned long>(failed),
                     format_duration(so_far.percentile(99)).c_str(), monotonic_ns() < plan.measure_from_ns ? "  (warm-up)" : "");
        last_completed = completed;
    }
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = parse_options(argc, argv);
    if (auto* stop = std::get_if<exit_now>(&parsed)) {
        std::fputs(stop->text.c_str(), stop->status == 0 ? stdout : stderr);
        return stop->status;
    }
    const options o = std::get<options>(parsed);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // the watcher takes them
    std::signal(SIGPIPE, SIG_IGN);

    run_plan plan;
    plan.settings = &o;
    const bool own_namespace = o.namespace_id.empty();
    if (std::string e = prepare(o, plan.organizations); !e.empty()) {
        if (own_namespace) delete_namespaces(o, plan.organizations);
        return fatal(e);
    }
    if (o.server_stats) {
        std::string json;  // read once first, so a refusal stops the run before it starts
        if (std::string e = read_server_stats(o, json); !e.empty()) {
            if (own_namespace) delete_namespaces(o, plan.organizations);
            return fatal(e);
        }
    }
    std::vector<std::vector<int>> fds(o.threads);
    for (unsigned c = 0; c < o.connections; ++c) {
        std::string error;
        const int fd = connect_to(o, error);
        if (fd < 0) return fatal(error);
        fds[c * o.threads / o.connections].push_back(fd);  // contiguous blocks per thread
    }

    // --server-stats: the server's window starts with the measured run: here,
    // before any request of the run is sent, or at the end of the warm-up
    // (give or take the requests in flight at that moment).
    std::string window_error;
    if (o.server_stats && o.warmup_s == 0) window_error = reset_server_stats(o);
    std::atomic<bool> stop{false};
    plan.stop = &stop;
    plan.start_ns = monotonic_ns() + 50'000'000;  // let the threads start
    plan.measure_from_ns = plan.start_ns + std::uint64_t(o.warmup_s * 1e9);
    plan.end_ns = plan.measure_from_ns + std::uint64_t(o.duration_s * 1e9);

    io::cluster peers(o.threads);
    std::vector<std::unique_ptr<thread_results>> results;
    std::vector<std::thread> threads;
    std::atomic<unsigned> running{o.threads};
    unsigned first = 0;
    for (unsigned core = 0; core < o.threads; ++core) {
        results.push_back(std::make_unique<thread_results>());
        threads.emplace_back([&, core, first] {
            run_thread(peers, core, plan, first, fds[core], *results[core]);
            --running;
        });
        first += unsigned(fds[core].size());
    }
    std::thread window;
    if (o.server_stats && o.warmup_s > 0) {
        window = std::thread([&o, &plan, &window_error] {
            const std::uint64_t now = monotonic_ns();
            if (now < plan.measure_from_ns) {
                const std::uint64_t wait_ns = plan.measure_from_ns - now;
                const timespec pause{time_t(wait_ns / 1'000'000'000), long(wait_ns % 1'000'000'000)};
                nanosleep(&pause, nullptr);
            }
            window_error = reset_server_stats(o);
        });
    }
    watch(o, plan, stop, running, results);
    for (auto& t : threads) t.join();
    const std::uint64_t ended = monotonic_ns();
    if (window.joinable()) window.join();

    auto merged = std::make_unique<totals>();  // histograms are large: not on the stack
    totals& t = *merged;
    merge(results, t);
    t.seconds = double(std::min(ended, o.requests ? ended : plan.end_ns + 1) - std::min(plan.measure_from_ns, ended)) / 1e9;
    print_table(o, t);
    std::string error = window_error;
    if (o.server_stats && error.empty()) {
        std::string json;
        error = read_server_stats(o, json);
        if (error.empty()) print_server_stats(parse_server_stats(json));
    }
    if (error.empty() && !o.json_path.empty()) error = write_json(o, t, o.json_path);
    if (error.empty() && !o.plot_path.empty()) error = write_plot(t, o.plot_path);
    if (own_namespace) {
        if (std::string e = delete_namespaces(o, plan.organizations); !e.empty() && error.empty()) error = e;
    }
    if (!error.empty()) return fatal(error);
    if (t.failed != 0) {
        return fatal(std::to_string(t.failed) + " request(s) failed; first: " +
                     (t.first_error.empty() ? "an error status (see the status line)" : t.first_error));
    }
    if (t.completed == 0) return fatal("no request completed");
    return 0;
}
