#include <ringkv/loadgen/options.hh>

#include <charconv>
#include <string_view>

namespace ringkv::loadgen {
namespace {

constexpr std::string_view usage = R"(Usage: ringkv-bench [options]

Load generator and latency recorder for the Telnyx KV API (ringkv or any
server that speaks it). Closed loop by default (as fast as the server
answers); with --rate, open loop: requests are due on a fixed schedule and
latency is measured from when each was due, so a stalled server is charged
for the whole wait (coordinated omission corrected).

Target:
  --url URL               server base URL (default http://127.0.0.1:8080/v2)
  --token TOKEN           bearer token (default ringkv-bench)
  --tokens N              spread the connections over N organizations, the
                          tokens TOKEN-0 .. TOKEN-{N-1}, one namespace each
                          (default 1: TOKEN alone); N at most --connections
  --namespace ID          use this namespace (default: create one, fill it,
                          and delete it at the end)
  --no-prefill            do not PUT every key before the run
Load:
  --threads N             event-loop threads (default 1)
  --connections N         connections in all (default 16)
  --pipeline N            requests in flight per connection (default 1)
  --rate N                requests/s in all: open loop (default: closed loop)
  --duration S            measured seconds (default 10)
  --requests N            stop after N requests instead of a duration
  --warmup S              seconds run first and left out of the figures
  --timeout S             a response slower than this fails the run (default 10)
Workload:
  --mix OPS               weights, e.g. get=90,put=10 (get, put, delete, list;
                          default get=100)
  --keys N                keys k0..k{N-1} (default 10000)
  --zipf SKEW             zipfian keys with this skew (> 0); default uniform
  --value-size N|N-M      PUT value bytes, fixed or uniform in a range (default 64)
  --ttl S                 PUTs set ttl_secs=S
  --key-prefix P          key names start with P (default k)
Output:
  --json FILE             write results and the whole histogram as JSON
  --plot FILE.png         draw the latency-percentile curve (needs gnuplot)
  --quiet                 no progress line
  --server-stats          also print ringkv's own latency per route (its
                          /_ringkv/stats window, restarted when the measured
                          run begins), to tell server time from network
                          and client time
  --admin-token TOKEN     the server's --admin-token, for --server-stats
  --help                  print this help and exit
  --version               print the version and exit
)";

template <typename T>
bool parse_number(std::string_view text, T& out) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc{} && end == text.data() + text.size();
}

// Each organization is set up (a namespace created and filled) before the
// run, one after another; this keeps that set-up, and the namespaces left
// on the servers, bounded.
constexpr unsigned tokens_max = 10000;

exit_now bad(const std::string& text) { return {2, "ringkv-bench: " + text + " (see --help)\n"}; }

// http://HOST:PORT[/PATH]; HOST an IPv4 address or localhost.
bool parse_url(std::string_view url, options& o) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) return false;
    url.remove_prefix(scheme.size());
    const std::size_t slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
    const std::size_t colon = authority.rfind(':');
    o.port = 80;
    if (colon != std::string_view::npos) {
        if (!parse_number(authority.substr(colon + 1), o.port) || o.port == 0) return false;
        authority = authority.substr(0, colon);
    }
    if (authority.empty()) return false;
    o.host = authority == "localhost" ? "127.0.0.1" : std::string(authority);
    o.base_path = path.empty() || path == "/" ? "/v2" : std::string(path);
    if (o.base_path.back() == '/') o.base_path.pop_back();
    return true;
}

}  // namespace

std::variant<options, exit_now> parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") return exit_now{0, std::string(usage)};
        if (flag == "--version") return exit_now{0, std::string("ringkv-bench ") + RINGKV_VERSION + "\n"};
        if (flag == "--no-prefill") { o.prefill = false; continue; }
        if (flag == "--quiet") { o.quiet = true; continue; }
        if (flag == "--server-stats") { o.server_stats = true; continue; }
        if (i + 1 >= argc) return bad(flag.starts_with("--") ? "option " + std::string(flag) + " needs a value" : "unexpected argument '" + std::string(flag) + "'");
        const std::string_view value = argv[++i];
        bool ok = true;
        if (flag == "--url") ok = parse_url(value, o);
        else if (flag == "--token") ok = !(o.token = std::string(value)).empty();
        else if (flag == "--tokens") ok = parse_number(value, o.tokens) && o.tokens >= 1 && o.tokens <= tokens_max;
        else if (flag == "--namespace") ok = (o.namespace_id = std::string(value)).size() == 36;
        else if (flag == "--threads") ok = parse_number(value, o.threads) && o.threads >= 1 && o.threads <= 64;
        else if (flag == "--connections") ok = parse_number(value, o.connections) && o.connections >= 1 && o.connections <= 100000;
        else if (flag == "--pipeline") ok = parse_number(value, o.pipeline) && o.pipeline >= 1 && o.pipeline <= 1024;
        else if (flag == "--rate") ok = parse_number(value, o.rate) && o.rate > 0;
        else if (flag == "--duration") ok = parse_number(value, o.duration_s) && o.duration_s > 0;
        else if (flag == "--requests") ok = parse_number(value, o.requests) && o.requests > 0;
        else if (flag == "--warmup") ok = parse_number(value, o.warmup_s) && o.warmup_s >= 0;
        else if (flag == "--timeout") ok = parse_number(value, o.timeout_s) && o.timeout_s > 0;
        else if (flag == "--mix") {
            const auto m = mix::parse(value);
            ok = m.has_value();
            if (ok) o.operations = *m;
        } else if (flag == "--keys") ok = parse_number(value, o.keys) && o.keys >= 1;
        else if (flag == "--zipf") {
            double skew = 0;
            ok = parse_number(value, skew) && skew > 0 && skew <= 10;
            o.zipf_skew = skew;
        } else if (flag == "--value-size") {
            const auto r = size_range::parse(value);
            ok = r && r->high <= 1048576;
            if (ok) o.value_bytes = *r;
        } else if (flag == "--ttl") ok = parse_number(value, o.ttl_s) && o.ttl_s >= 1 && o.ttl_s <= 9223372036ull;
        else if (flag == "--key-prefix") {
            o.key_prefix = std::string(value);
            ok = !value.empty() && value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/=.") == std::string_view::npos;
        } else if (flag == "--admin-token") ok = !(o.admin_token = std::string(value)).empty();
        else if (flag == "--json") ok = !(o.json_path = std::string(value)).empty();
        else if (flag == "--plot") ok = !(o.plot_path = std::string(value)).empty();
        else return bad("unknown option " + std::string(flag));
        if (!ok) return bad("bad value for " + std::string(flag) + " '" + std::string(value) + "'");
    }
    if (o.connections < o.threads) return bad("--connections must be at least --threads");
    if (o.tokens > o.connections) return bad("--tokens must be at most --connections (each organization gets one)");
    if (o.tokens > 1 && !o.namespace_id.empty()) return bad("--namespace belongs to one token: not with --tokens");
    return o;
}

std::string token_of(const options& o, unsigned organization) {
    return o.tokens == 1 ? o.token : o.token + "-" + std::to_string(organization);
}

}  // namespace ringkv::loadgen
