#pragma once
// ringkv-bench's command line.

#include <ringkv/loadgen/workload.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace ringkv::loadgen {

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string base_path = "/v2";
    std::string token = "ringkv-bench";
    // Organizations the connections are spread over (--tokens): connection c
    // speaks for organization c % tokens, each with a namespace of its own.
    unsigned tokens = 1;

    unsigned threads = 1;
    unsigned connections = 16;
    unsigned pipeline = 1;
    double rate = 0;               // requests/s in all; 0: closed loop
    double duration_s = 10;
    std::uint64_t requests = 0;    // when set, stop after this many instead
    double warmup_s = 0;
    double timeout_s = 10;         // a response slower than this fails the run

    mix operations;
    std::uint64_t keys = 10000;
    std::optional<double> zipf_skew;  // empty: uniform keys
    size_range value_bytes;
    std::uint64_t ttl_s = 0;       // PUTs carry ttl_secs when set
    std::string key_prefix = "k";
    std::string namespace_id;      // empty: create one, and delete it after
    bool prefill = true;

    // --server-stats: start the server's stats window when the measured
    // run begins (DELETE /_ringkv/stats) and print its own percentiles
    // (GET /_ringkv/stats) beside the client's; admin_token for both.
    bool server_stats = false;
    std::string admin_token;

    std::string json_path;
    std::string plot_path;
    bool quiet = false;
};

struct exit_now {
    int status;
    std::string text;
};

std::variant<options, exit_now> parse_options(int argc, char** argv);

// The bearer token of organization `organization` (0 .. o.tokens-1): the
// --token itself when there is one organization, else "<token>-<n>".
std::string token_of(const options& o, unsigned organization);
// The organization connection `connection` (0 .. o.connections-1) speaks for.
inline unsigned organization_of(const options& o, unsigned connection) { return connection % o.tokens; }

}  // namespace ringkv::loadgen
