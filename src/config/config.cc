#include <ringkv/config/config.hh>

#include <ringkv/base/limits.hh>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <string_view>

#include <unistd.h>

namespace ringkv::config {
namespace {

constexpr std::string_view usage = R"(Usage: ringkv [options]

An in-memory server for the Telnyx Edge Compute KV REST API, built for load
testing, latency benchmarking and production-like mocking.

Options:
  --bind ADDR                 IPv4 address to listen on (default 127.0.0.1)
  --port N                    TCP port (default 8080; 0 picks a free port)
  --threads N                 event-loop threads, one per core, each pinned
                              (default: every CPU this process may run on)
  --connections-per-core N    open connections a core holds; past it a new
                              connection gets 503 and is closed (default 4096)
  --header-timeout-ms N       time to receive a request head, and again its
                              body, before 408 and close (default 10000)
  --idle-timeout-ms N         keep-alive idle time, and the longest the sending
                              of a batch of responses may take however slowly
                              the client reads, before close (default 60000)
  --drain-timeout-ms N        on SIGINT/SIGTERM, time to finish requests in
                              flight before connections are cut (default 5000)
  --tokens FILE               accept only the bearer tokens listed in FILE
                              (one per line); default: any non-empty token.
                              Each token is its own organization.
  --provision-delay MS        a new namespace is "pending" this long before
                              "provision_ok" (default 0)
  --delete-delay MS           a deleted namespace is "deleting" this long
                              before it is gone (default 0)
  --default-ttl-support B     ttl_support of namespaces created without it:
                              true or false (default true)
  --namespaces-per-org N      namespaces (live and being deleted) one
                              organization (token) may hold; one more is 422
                              (default 1000)
  --max-memory BYTES          memory for keys and namespaces, e.g. 1073741824,
                              512M or 4G; a write that would pass it is
                              answered 507 and stores nothing, while reads and
                              deletes keep working (default: half of physical
                              memory or of the cgroup v2 memory.max, whichever
                              is less). Each thread gets an equal share after
                              a sixteenth for namespaces, and each share must
                              hold one 1 MiB value (2M for 1 thread, 3M for 2,
                              ...): a smaller bound given here is refused,
                              naming the minimum; a smaller default is raised
                              to it
  --help                      print this help and exit
  --version                   print the version and exit
)";

template <typename Integer>
bool parse_integer(std::string_view text, Integer min, Integer max, Integer& out) {
    Integer value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value < min || value > max) return false;
    out = value;
    return true;
}

// The smallest --max-memory accepted: below it not even the empty tables
// of a few cores fit, and every write would be refused.
constexpr std::uint64_t max_memory_bytes_min = 1 << 20;
// When the machine's memory cannot be read.
constexpr std::uint64_t fallback_max_memory_bytes = std::uint64_t(1) << 30;

exit_now bad(std::string text) { return {2, "ringkv: " + text + " (see --help)\n"}; }

// One token per line; blank lines and surrounding spaces are ignored.
bool read_tokens(const std::string& path, config::api_settings& api, std::string& error) {
    std::ifstream file(path);
    if (!file) {
        error = "cannot read --tokens file '" + path + "'";
        return false;
    }
    api.tokens.emplace();
    std::string line;
    while (std::getline(file, line)) {
        const std::size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos) continue;
        const std::size_t last = line.find_last_not_of(" \t\r");
        api.tokens->push_back(line.substr(first, last - first + 1));
    }
    if (api.tokens->empty()) {
        error = "--tokens file '" + path + "' lists no token";
        return false;
    }
    return true;
}

}  // namespace

std::variant<config, exit_now> parse(int argc, char** argv) {
    config result;
    result.server.connections_per_core = limits::connections_per_core_default;
    result.server.header_timeout_ms = limits::header_timeout_ms_default;
    result.server.idle_timeout_ms = limits::idle_timeout_ms_default;
    result.drain_timeout_ms = limits::drain_timeout_ms_default;

    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        std::string_view value;
        bool inline_value = false;
        if (const auto equals = flag.find('='); flag.starts_with("--") && equals != std::string_view::npos) {
            value = flag.substr(equals + 1);
            flag = flag.substr(0, equals);
            inline_value = true;
        }
        if (flag == "--help" || flag == "-h") return exit_now{0, std::string(usage)};
        if (flag == "--version") return exit_now{0, std::string("ringkv ") + RINGKV_VERSION + "\n"};

        const auto take_value = [&]() -> bool {
            if (inline_value) return true;
            if (i + 1 >= argc) return false;
            value = argv[++i];
            return true;
        };
        if (!flag.starts_with("--")) return bad("unexpected argument '" + std::string(flag) + "'");
        static constexpr std::string_view known[] = {"--bind", "--port", "--threads", "--connections-per-core",
                                                     "--header-timeout-ms", "--idle-timeout-ms",
                                                     "--drain-timeout-ms", "--tokens", "--provision-delay",
                                                     "--delete-delay", "--default-ttl-support",
                                                     "--namespaces-per-org", "--max-memory"};
        if (std::find(std::begin(known), std::end(known), flag) == std::end(known)) {
            return bad("unknown option " + std::string(flag));
        }
        if (!take_value()) return bad("option " + std::string(flag) + " needs a value");
        const std::string shown = std::string(flag) + " '" + std::string(value) + "'";

        constexpr std::uint32_t ms_max = 24u * 3600 * 1000;
        bool ok = true;
        if (flag == "--bind") {
            result.server.bind_address = std::string(value);
            ok = !value.empty();
        } else if (flag == "--port") {
            ok = parse_integer<std::uint16_t>(value, 0, 65535, result.server.port);
        } else if (flag == "--threads") {
            ok = parse_integer<unsigned>(value, 1, limits::cores_max, result.threads);
        } else if (flag == "--connections-per-core") {
            ok = parse_integer<unsigned>(value, 1, 1'000'000, result.server.connections_per_core);
        } else if (flag == "--header-timeout-ms") {
            ok = parse_integer<std::uint32_t>(value, 1, ms_max, result.server.header_timeout_ms);
        } else if (flag == "--idle-timeout-ms") {
            ok = parse_integer<std::uint32_t>(value, 1, ms_max, result.server.idle_timeout_ms);
        } else if (flag == "--drain-timeout-ms") {
            ok = parse_integer<std::uint32_t>(value, 0, ms_max, result.drain_timeout_ms);
        } else if (flag == "--provision-delay") {
            ok = parse_integer<std::uint32_t>(value, 0, ms_max, result.api.provision_delay_ms);
        } else if (flag == "--delete-delay") {
            ok = parse_integer<std::uint32_t>(value, 0, ms_max, result.api.delete_delay_ms);
        } else if (flag == "--default-ttl-support") {
            ok = value == "true" || value == "false";
            result.api.default_ttl_support = value == "true";
        } else if (flag == "--namespaces-per-org") {
            ok = parse_integer<std::size_t>(value, 1, 1'000'000'000, result.api.namespaces_per_organization);
        } else if (flag == "--max-memory") {
            const auto bytes = parse_bytes(value);
            ok = bytes && *bytes >= max_memory_bytes_min;
            if (ok) result.max_memory_bytes = *bytes;
            result.max_memory_given = ok;
        } else if (flag == "--tokens") {
            std::string error;
            if (!read_tokens(std::string(value), result.api, error)) return bad(error);
        }
        if (!ok) return bad("bad value for " + shown);
    }
    if (result.max_memory_bytes == 0) result.max_memory_bytes = default_max_memory_bytes();
    return result;
}

std::optional<std::uint64_t> cgroup_memory_max_bytes() {
    // cgroup v2: the line "0::/path" of /proc/self/cgroup names our group.
    std::ifstream self("/proc/self/cgroup");
    std::string line, path;
    while (std::getline(self, line)) {
        if (line.starts_with("0::/")) path = line.substr(3);
    }
    if (path.empty()) return std::nullopt;
    // Every ancestor's memory.max bounds us too; the lowest number wins.
    std::optional<std::uint64_t> lowest;
    for (;;) {
        std::ifstream limit("/sys/fs/cgroup" + (path == "/" ? std::string() : path) + "/memory.max");
        std::string text;
        std::uint64_t bytes = 0;
        if (limit >> text && parse_integer<std::uint64_t>(text, 0, UINT64_MAX, bytes)) {  // "max": no limit
            lowest = std::min(lowest.value_or(UINT64_MAX), bytes);
        }
        if (path == "/") break;
        const std::size_t slash = path.rfind('/');
        path = slash == 0 ? "/" : path.substr(0, slash);
    }
    return lowest;
}

std::uint64_t default_max_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_bytes = sysconf(_SC_PAGESIZE);
    std::uint64_t usable = pages > 0 && page_bytes > 0 ? std::uint64_t(pages) * std::uint64_t(page_bytes)
                                                       : 2 * fallback_max_memory_bytes;
    // In a container the cgroup's limit, not the machine, is what we may use.
    if (const auto limit = cgroup_memory_max_bytes(); limit && *limit != 0) usable = std::min(usable, *limit);
    return usable / 2;
}

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
    unsigned shift = 0;
    if (!text.empty()) {
        switch (text.back()) {
            case 'K': case 'k': shift = 10; break;
            case 'M': case 'm': shift = 20; break;
            case 'G': case 'g': shift = 30; break;
            case 'T': case 't': shift = 40; break;
            default: break;
        }
        if (shift != 0) text.remove_suffix(1);
    }
    std::uint64_t value = 0;
    if (!parse_integer<std::uint64_t>(text, 0, UINT64_MAX >> shift, value)) return std::nullopt;
    return value << shift;
}

}  // namespace ringkv::config
