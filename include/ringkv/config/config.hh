#pragma once
// Command-line configuration. parse() never exits or prints: it returns the
// config, or the text to print (help, version, or a one-line error).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ringkv::config {

// Plain settings; app/ turns them into each module's options (config/
// depends on base only).
struct config {
    struct server_settings {
        std::string bind_address = "127.0.0.1";
        std::uint16_t port = 8080;
        unsigned connections_per_core = 0;
        std::uint32_t header_timeout_ms = 0;
        std::uint32_t idle_timeout_ms = 0;
        std::string node_name;  // --node-name; empty: no X-Ringkv-Node header
    } server;
    struct api_settings {
        std::optional<std::vector<std::string>> tokens;  // empty: any token
        std::uint32_t provision_delay_ms = 0;
        std::uint32_t delete_delay_ms = 0;
        bool default_ttl_support = true;
        std::size_t namespaces_per_organization = 1000;
    } api;
    // The control plane (/_ringkv/... routes).
    struct admin_settings {
        std::string token;    // empty: the routes are open
        bool enabled = true;  // --no-admin: they answer 404
    } admin;
    // Steering (control/).
    struct control_settings {
        std::string rules_file;  // --rules: empty for none
    } control;
    // Keeping state (--data-dir); see persist/.
    struct persist_settings {
        std::string data_dir;  // empty: in memory only
        enum class log_policy { off, everysec, always } log = log_policy::everysec;
        bool log_given = false;
        std::uint32_t snapshot_every_s = 0;  // 0: no timer
        std::uint32_t snapshot_mb_per_s = 16;  // the part writer's pace; 0: none
        bool snapshot_pace_given = false;
    } persist;
    // Observing (docs/CONTROL.md, "Observing").
    struct observe_settings {
        bool metrics = true;          // --no-metrics: no request metrics, no /metrics
        bool server_timing = false;   // --server-timing
        std::size_t journal_entries = 0;  // --journal N: per core; 0 off
    } observe;
    // The memory budget of keys and namespaces (--max-memory); 0 until
    // parse() fills in the default (default_max_memory_bytes()).
    std::uint64_t max_memory_bytes = 0;
    bool max_memory_given = false;  // --max-memory was passed (else: the default)
    unsigned threads = 0;  // 0: one per CPU this process may run on
    std::uint32_t drain_timeout_ms = 5000;
};

struct exit_now {
    int status;         // 0 for --help/--version, 2 for a bad flag
    std::string text;   // printed to stdout (status 0) or stderr
};

// Reads the environment (RINGKV_<OPTION>) and then the command line, which
// wins.
std::variant<config, exit_now> parse(int argc, char** argv);
// What --help prints.
std::string help_text();

// Half of the memory this process may use, the default --max-memory: the
// machine's physical memory, or less when its cgroup (v2) memory.max is a
// number.
std::uint64_t default_max_memory_bytes();
// The lowest memory.max of this process's cgroup v2 and its ancestors, or
// nullopt when none is a number ("max") or there is no cgroup v2.
std::optional<std::uint64_t> cgroup_memory_max_bytes();

// "1048576", "512K", "64M", "2G" (binary multiples): bytes, or nullopt.
std::optional<std::uint64_t> parse_bytes(std::string_view text);

}  // namespace ringkv::config
