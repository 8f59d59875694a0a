#pragma once
// The steering half of the control plane (docs/CONTROL.md, "Steering"):
//   /_ringkv/rules  GET (with counters), PUT (replace), POST (append one),
//                   DELETE (clear)
//   /_ringkv/clock  GET, POST {"advance_ms": N}
//   /_ringkv/state  DELETE, optionally {"token": "..."}
// and --rules FILE, read at start. Every change is in force on every core
// before it is answered.

#include <ringkv/control/admin.hh>
#include <ringkv/control/rules.hh>
#include <ringkv/io/task.hh>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ringkv::control {

// The advance one POST /_ringkv/clock may make: a hundred years.
inline constexpr std::uint64_t clock_advance_ms_max = 100ull * 366 * 24 * 3600 * 1000;
// No advance (counting all before it) may take ringkv's clock to 2106-01-01
// or later: timestamps are kept as 32-bit seconds (io::loop::wall_s()),
// which wrap early in 2106.
inline constexpr std::uint64_t clock_end_ms = 4'291'747'200'000;
// A --rules file is read whole; no larger than a request body may be.
inline constexpr std::size_t rules_file_bytes_max = 1024 * 1024;

// Removes every namespace of one organization (all when empty), with its
// keys, on every core (api/ does it; app/ passes it in).
struct reset_result {
    std::size_t namespaces = 0;
    bool durable = true;
};
using reset_function = std::function<io::task<reset_result>(std::optional<std::string> organization)>;

// Records the clock's new lead where a restart finds it (api/ does it,
// app/ passes it in); false when it could not be (the disk is full).
using clock_recorder = std::function<io::task<bool>()>;

void add_steering_routes(admin_table& table, reset_function reset, clock_recorder record_clock);

// Reads and decodes a --rules file (a JSON array of rules, as PUT takes);
// on error, a one-line message naming the file and the field.
std::variant<std::vector<rule_spec>, std::string> read_rules_file(const std::string& path);

// Gives each rule with expires_after_ms its instant on ringkv's clock.
void start_expiry(std::vector<rule_spec>& rules, std::uint64_t now_ms);

}  // namespace ringkv::control
