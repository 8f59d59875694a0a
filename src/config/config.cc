#include <ringkv/config/config.hh>

#include <ringkv/base/limits.hh>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

namespace ringkv::config {
namespace {

constexpr std::string_view usage_intro = R"(Usage: ringkv [options]

An in-memory server for the Telnyx Edge Compute KV REST API, built for load
testing, latency benchmarking and production-like mocking.

Every option can also be set by an environment variable named after it:
RINGKV_ and the option's name in capitals with dashes as underscores
(--max-memory 4G is RINGKV_MAX_MEMORY=4G; a switch takes true or false).
An option given on the command line wins over its variable.

Options:
)";
constexpr std::string_view usage_outro = R"(  --help                      print this help and exit
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

// --node-name goes into a response header as it is: 1-64 characters that
// need no quoting there and no escaping in a log.
constexpr std::size_t node_name_bytes_max = 64;

bool valid_node_name(std::string_view name) {
    if (name.empty() || name.size() > node_name_bytes_max) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_';
    });
}

bool parse_boolean(std::string_view text, bool& out) {
    if (text == "true" || text == "1") {
        out = true;
    } else if (text == "false" || text == "0") {
        out = false;
    } else {
        return false;
    }
    return true;
}

// Appliers for the common kinds of value. `field` picks the setting an
// option writes: [](config& c) -> auto& { return c.server.port; }.

// An integer in [min, max].
template <auto field, auto min, auto max>
bool integer(config& c, std::string_view v, std::string&) {
    auto& setting = field(c);
    using type = std::remove_cvref_t<decltype(setting)>;
    static_assert(std::in_range<type>(min) && std::in_range<type>(max));
    return parse_integer<type>(v, type(min), type(max), setting);
}

// A text that must not be empty.
template <auto field>
bool text(config& c, std::string_view v, std::string&) {
    field(c) = std::string(v);
    return !v.empty();
}

// true or false.
template <auto field>
bool boolean(config& c, std::string_view v, std::string&) {
    return parse_boolean(v, field(c));
}

// A --no-X switch: given (true), X is off.
template <auto field>
bool switched_off(config& c, std::string_view v, std::string&) {
    bool off = false;
    if (!parse_boolean(v, off)) return false;
    field(c) = !off;
    return true;
}

// One command-line option: its name, what its value is called in --help
// (empty: a switch, which takes no value), its help text (lines after the
// first are indented by the generator), and how a value is applied.
struct option {
    std::string_view name;  // without the leading "--"
    std::string_view value_name;
    std::string_view help;
    // Applies `value` to `result`; false for a bad value, unless `error`
    // was set (then that is the whole message).
    bool (*apply)(config& result, std::string_view value, std::string& error);
};

constexpr std::uint32_t ms_max = 24u * 3600 * 1000;

// The options, in the order --help lists them. To add one: an entry here,
// its setting in config.hh.
constexpr option options[] = {
    {"bind", "ADDR", "IPv4 address to listen on (default 127.0.0.1)",
     text<[](config& c) -> auto& { return c.server.bind_address; }>},
    {"port", "N", "TCP port (default 8080; 0 picks a free port)",
     integer<[](config& c) -> auto& { return c.server.port; }, 0, 65535>},
    {"threads", "N",
     "event-loop threads, one per core, each pinned\n"
     "(default: every CPU this process may run on)",
     integer<[](config& c) -> auto& { return c.threads; }, 1, limits::cores_max>},
    {"connections-per-core", "N",
     "open connections a core holds; past it a new\n"
     "connection gets 503 and is closed (default 4096)",
     integer<[](config& c) -> auto& { return c.server.connections_per_core; }, 1, 1'000'000>},
    {"header-timeout-ms", "N",
     "time to receive a request head, and again its\n"
     "body, before 408 and close (default 10000)",
     integer<[](config& c) -> auto& { return c.server.header_timeout_ms; }, 1, ms_max>},
    {"idle-timeout-ms", "N",
     "keep-alive idle time, and the longest the sending\n"
     "of a batch of responses may take however slowly\n"
     "the client reads, before close (default 60000)",
     integer<[](config& c) -> auto& { return c.server.idle_timeout_ms; }, 1, ms_max>},
    {"drain-timeout-ms", "N",
     "on SIGINT/SIGTERM, time to finish requests in\n"
     "flight before connections are cut (default 5000)",
     integer<[](config& c) -> auto& { return c.drain_timeout_ms; }, 0, ms_max>},
    {"tokens", "FILE",
     "accept only the bearer tokens listed in FILE\n"
     "(one per line); default: any non-empty token.\n"
     "Each token is its own organization.",
     [](config& c, std::string_view v, std::string& error) { return read_tokens(std::string(v), c.api, error); }},
    {"provision-delay", "MS",
     "a new namespace is \"pending\" this long before\n"
     "\"provision_ok\" (default 0)",
     integer<[](config& c) -> auto& { return c.api.provision_delay_ms; }, 0, ms_max>},
    {"delete-delay", "MS",
     "a deleted namespace is \"deleting\" this long\n"
     "before it is gone (default 0)",
     integer<[](config& c) -> auto& { return c.api.delete_delay_ms; }, 0, ms_max>},
    {"default-ttl-support", "B",
     "ttl_support of namespaces created without it:\n"
     "true or false (default true)",
     boolean<[](config& c) -> auto& { return c.api.default_ttl_support; }>},
    {"namespaces-per-org", "N",
     "namespaces (live and being deleted) one\n"
     "organization (token) may hold; one more is 422\n"
     "(default 1000)",
     integer<[](config& c) -> auto& { return c.api.namespaces_per_organization; }, 1, 1'000'000'000>},
    {"max-memory", "BYTES",
     "memory for keys and namespaces, e.g. 1073741824,\n"
     "512M or 4G; a write that would pass it is\n"
     "answered 507 and stores nothing, while reads and\n"
     "deletes keep working (default: half of physical\n"
     "memory or of the cgroup v2 memory.max, whichever\n"
     "is less). Each thread gets an equal share after\n"
     "a sixteenth for namespaces, and each share must\n"
     "hold one 1 MiB value (2M for 1 thread, 3M for 2,\n"
     "...): a smaller bound given here is refused,\n"
     "naming the minimum; a smaller default is raised\n"
     "to it",
     [](config& c, std::string_view v, std::string&) {
         const auto bytes = parse_bytes(v);
         if (!bytes || *bytes < max_memory_bytes_min) return false;
         c.max_memory_bytes = *bytes;
         c.max_memory_given = true;
         return true;
     }},
    {"node-name", "NAME",
     "send \"X-Ringkv-Node: NAME\" on every response, so\n"
     "behind a proxy a client sees which node answered\n"
     "(1-64 of A-Z a-z 0-9 . _ -; default: no header)",
     [](config& c, std::string_view v, std::string&) {
         c.server.node_name = std::string(v);
         return valid_node_name(v);
     }},
    {"admin-token", "TOKEN",
     "the control plane's routes (/_ringkv/...) need\n"
     "Authorization: Bearer TOKEN, else 401 (default:\n"
     "open; /metrics and /healthz are always open)",
     text<[](config& c) -> auto& { return c.admin.token; }>},
    {"no-admin", "",
     "turn the control plane's routes (/_ringkv/...)\n"
     "off: they answer 404 like any unknown path",
     switched_off<[](config& c) -> auto& { return c.admin.enabled; }>},
    {"rules", "FILE",
     "load steering rules (latency, faults, rate limits)\n"
     "from FILE at start: a JSON array, as PUT\n"
     "/_ringkv/rules takes; a bad rule stops the start",
     text<[](config& c) -> auto& { return c.control.rules_file; }>},
    {"data-dir", "DIR",
     "keep the state in DIR (created if missing): load\n"
     "its latest snapshot and replay the log after it\n"
     "at start; a damaged file stops the start, naming\n"
     "it (default: in memory only)",
     text<[](config& c) -> auto& { return c.persist.data_dir; }>},
    {"log", "POLICY",
     "with --data-dir, the append-only log: always (a\n"
     "write is answered once its record is fsync'd,\n"
     "one fsync per loop iteration), everysec (fsync\n"
     "each second: at most ~1 s of writes lost), or off\n"
     "(snapshots only) (default everysec)",
     [](config& c, std::string_view v, std::string&) {
         using policy = config::persist_settings::log_policy;
         if (v == "always") c.persist.log = policy::always;
         else if (v == "everysec") c.persist.log = policy::everysec;
         else if (v == "off") c.persist.log = policy::off;
         else return false;
         c.persist.log_given = true;
         return true;
     }},
    {"snapshot-every-s", "N",
     "with --data-dir, write a snapshot every N seconds\n"
     "(default 0: only on POST /_ringkv/snapshot and on\n"
     "SIGTERM/SIGINT)",
     integer<[](config& c) -> auto& { return c.persist.snapshot_every_s; }, 1, 365u * 24 * 3600>},
    {"snapshot-mb-per-s", "N",
     "with --data-dir, write snapshots at most N MB/s and\n"
     "remove the files they replace at 4N MB/s, so that\n"
     "a snapshot's disk work is spread out under load (1M\n"
     "keys of 100 B: 11 s); 0: as fast as the disk takes\n"
     "it (default 16; never paced once stopping)",
     [](config& c, std::string_view v, std::string& error) {
         c.persist.snapshot_pace_given = true;
         return integer<[](config& c) -> auto& { return c.persist.snapshot_mb_per_s; }, 0, 1u << 20>(c, v, error);
     }},
    {"no-metrics", "",
     "do not time or count requests: no /metrics, no\n"
     "/_ringkv/stats (for measuring what they cost)",
     switched_off<[](config& c) -> auto& { return c.observe.metrics; }>},
    {"server-timing", "",
     "add Server-Timing: app;dur=MS (and inject;dur=MS\n"
     "for an injected delay) to every response",
     boolean<[](config& c) -> auto& { return c.observe.server_timing; }>},
    {"journal", "N",
     "keep the last N requests of each core for\n"
     "GET /_ringkv/requests (0-100000; ~330 bytes\n"
     "each, allocated at start; default 0: off)",
     integer<[](config& c) -> auto& { return c.observe.journal_entries; }, 0, 100'000>},
};

constexpr std::size_t help_column = 30;  // where the help text starts

std::string usage() {
    std::string text(usage_intro);
    for (const option& o : options) {
        // append(), not operator+: GCC 12 warns falsely on string + (bug 105329).
        const std::size_t line_start = text.size();
        text.append("  --").append(o.name);
        if (!o.value_name.empty()) text.append(" ").append(o.value_name);
        text.append(std::max(line_start + help_column, text.size() + 1) - text.size(), ' ');
        for (const char c : o.help) {
            text += c;
            if (c == '\n') text.append(help_column, ' ');
        }
        text += '\n';
    }
    text += usage_outro;
    return text;
}

const option* find_option(std::string_view name) {
    for (const option& o : options) {
        if (o.name == name) return &o;
    }
    return nullptr;
}

// RINGKV_MAX_MEMORY for "max-memory".
std::string environment_name(std::string_view name) {
    std::string text("RINGKV_");
    for (const char c : name) text += c == '-' ? '_' : char(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// Applies one value; returns the message of a failure, or nothing.
std::optional<exit_now> apply(const option& o, std::string_view value, std::string_view shown, config& result) {
    std::string error;
    if (o.apply(result, value, error)) return std::nullopt;
    if (!error.empty()) return bad(error);
    return bad("bad value for " + std::string(shown) + " '" + std::string(value) + "'");
}

}  // namespace

std::string help_text() { return usage(); }

std::variant<config, exit_now> parse(int argc, char** argv) {
    config result;
    result.server.connections_per_core = limits::connections_per_core_default;
    result.server.header_timeout_ms = limits::header_timeout_ms_default;
    result.server.idle_timeout_ms = limits::idle_timeout_ms_default;
    result.drain_timeout_ms = limits::drain_timeout_ms_default;

    // The command line first, read but not applied: an option given there
    // wins, so its variable is not even looked at.
    struct given {
        const option* what;
        std::string_view value;
        std::string_view flag;
    };
    std::vector<given> flags;
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        std::optional<std::string_view> value;
        if (const auto equals = flag.find('='); flag.starts_with("--") && equals != std::string_view::npos) {
            value = flag.substr(equals + 1);
            flag = flag.substr(0, equals);
        }
        if (flag == "--help" || flag == "-h") return exit_now{0, usage()};
        if (flag == "--version") return exit_now{0, std::string("ringkv ") + RINGKV_VERSION + "\n"};
        if (!flag.starts_with("--")) return bad("unexpected argument '" + std::string(flag) + "'");
        const option* o = find_option(flag.substr(2));
        if (o == nullptr) return bad("unknown option " + std::string(flag));
        if (o->value_name.empty()) {
            if (!value) value = "true";  // a switch; --no-admin=false undoes its variable
        } else if (!value) {
            if (i + 1 >= argc) return bad("option " + std::string(flag) + " needs a value");
            value = argv[++i];
        }
        flags.push_back({o, *value, flag});
    }
    for (const option& o : options) {
        const bool on_command_line =
            std::any_of(flags.begin(), flags.end(), [&o](const given& g) { return g.what == &o; });
        const std::string variable = environment_name(o.name);
        const char* value = std::getenv(variable.c_str());
        if (on_command_line || value == nullptr) continue;
        if (auto failed = apply(o, value, variable, result)) return *failed;
    }
    for (const given& g : flags) {
        if (auto failed = apply(*g.what, g.value, g.flag, result)) return *failed;
    }
    if (result.max_memory_bytes == 0) result.max_memory_bytes = default_max_memory_bytes();
    if (result.persist.data_dir.empty() &&
        (result.persist.log_given || result.persist.snapshot_every_s != 0 || result.persist.snapshot_pace_given)) {
        return bad("--log, --snapshot-every-s and --snapshot-mb-per-s need --data-dir");
    }
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
