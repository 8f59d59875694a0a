#pragma once
// Command-line configuration. parse() never exits or prints: it returns the
// config, or the text to print (help, version, or a one-line error).

#include <ringkv/api/service.hh>
#include <ringkv/net/server.hh>

#include <cstdint>
#include <string>
#include <variant>

namespace ringkv::config {

struct config {
    net::server_options server;
    api::api_options api;
    unsigned threads = 0;  // 0: one per online CPU
    std::uint32_t drain_timeout_ms = 5000;
};

struct exit_now {
    int status;         // 0 for --help/--version, 2 for a bad flag
    std::string text;   // printed to stdout (status 0) or stderr
};

std::variant<config, exit_now> parse(int argc, char** argv);

}  // namespace ringkv::config
