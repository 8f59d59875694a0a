#pragma once
// Command-line configuration. parse() never exits or prints: it returns the
// config, or the text to print (help, version, or a one-line error).

#include <cstdint>
#include <optional>
#include <string>
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
    } server;
    struct api_settings {
        std::optional<std::vector<std::string>> tokens;  // empty: any token
        std::uint32_t provision_delay_ms = 0;
        std::uint32_t delete_delay_ms = 0;
        bool default_ttl_support = true;
    } api;
    unsigned threads = 0;  // 0: one per CPU this process may run on
    std::uint32_t drain_timeout_ms = 5000;
};

struct exit_now {
    int status;         // 0 for --help/--version, 2 for a bad flag
    std::string text;   // printed to stdout (status 0) or stderr
};

std::variant<config, exit_now> parse(int argc, char** argv);

}  // namespace ringkv::config
