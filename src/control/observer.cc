#include <ringkv/control/observer.hh>

#include "names.hh"

#include <ctime>

namespace ringkv::control {

namespace {

// The wall-clock time of a monotonic instant in the recent past, in
// microseconds since 1970 (journal only: two more clock reads).
std::uint64_t wall_us_of(std::uint64_t monotonic_ns) {
    timespec wall{}, now{};
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &now);
    const std::uint64_t now_ns = std::uint64_t(now.tv_sec) * 1'000'000'000 + std::uint64_t(now.tv_nsec);
    const std::uint64_t ago_ns = now_ns > monotonic_ns ? now_ns - monotonic_ns : 0;
    const std::uint64_t wall_ns = std::uint64_t(wall.tv_sec) * 1'000'000'000 + std::uint64_t(wall.tv_nsec);
    return (wall_ns - ago_ns) / 1000;
}

}  // namespace

observer::observer(unsigned core, const observe_options& options, std::uint64_t now_ns)
    : _options(options), _metrics(core, now_ns), _journal(options.journal_entries, core) {}

void observer::on_answered(metrics::route which, const net::http::request_head* head, std::string_view token,
                           net::http::exchange& done) {
    done.route_tag = std::uint8_t(which);
    if (_journal.enabled()) done.note = _journal.answered(head, token, done, wall_us_of(done.started_ns));
}

void observer::on_complete(const net::http::exchange& done) {
    if (_options.metrics) {
        _metrics.requests.record(
            {metrics::route(done.route_tag), metrics_method(done.method), done.status, done.duration_ns});
    }
    if (done.note != 0) _journal.sent(done.note, done);
}

void observer::on_settled(const net::http::exchange& done) {
    if (done.note != 0) _journal.settled(done.note, done);
}

bool observer::begin_scrape() {
    if (_scrapes >= _options.scrapes_per_core_max) return false;
    ++_scrapes;
    return true;
}

void observer::end_scrape() { --_scrapes; }

}  // namespace ringkv::control
