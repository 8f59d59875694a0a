// Snapshots written while the items they hold change hands: the part
// writer's thread (src/persist/part_writer.cc) encodes each core's frozen
// items while that core keeps serving pipelined writers that overwrite and
// delete the same keys, and TTL keys expire under a clock moved forward
// again and again (the owner retires items and rewrites the timer wheel's
// links of frozen ones meanwhile). Built with ThreadSanitizer (scripts/test
// runs it there) a race between the thread and a core stops the server,
// and the test fails; in every build, each acknowledged change is what the
// next start finds, from the last snapshot written that way and the log
// after it.

#include "harness.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ringkv::testing {
namespace {

constexpr int writers = 4;
constexpr int keys_per_writer = 48;
constexpr int batch_requests = 16;  // pipelined per round
constexpr int rounds = 40;
constexpr int filler_keys = 3000;   // so that each part takes a while to write
constexpr int snapshots_min = 3;

// What a key should hold after the run: a value, or nothing (deleted, or
// a TTL key, all of which have expired by the end).
using expected = std::map<std::string, std::optional<std::string>>;

void fill(std::uint16_t port, const std::string& id) {
    client c(port);
    const std::string value(200, 'f');
    for (int first = 0; first < filler_keys; first += batch_requests) {
        std::string bytes;
        for (int k = first; k < first + batch_requests; ++k) {
            bytes += request("PUT", key_path(id, "filler-" + std::to_string(k)), org_one_auth, value);
        }
        c.send(bytes);
        for (int k = first; k < first + batch_requests; ++k) ASSERT_EQ(c.read_response(30'000)->status, 201);
    }
}

// One writer: its own keys (so the order of its answers is the order of
// the changes), each round a pipelined batch of PUTs, DELETEs and PUTs
// with a TTL, picked by a fixed rule so every kind meets every key.
void write_rounds(std::uint16_t port, const std::string& id, int writer, expected& out) {
    client c(port);
    for (int round = 0; round < rounds; ++round) {
        std::string bytes;
        struct change {
            std::string key;
            std::optional<std::string> value;
            bool deleting = false;
        };
        std::vector<change> sent;
        for (int r = 0; r < batch_requests; ++r) {
            const int k = (round * batch_requests + r) * 7 % keys_per_writer;
            const std::string key = "w" + std::to_string(writer) + "-" + std::to_string(k);
            const std::string value = key + "@" + std::to_string(round) + "." + std::to_string(r);
            switch ((round + r + k) % 4) {
                case 0:
                    bytes += request("DELETE", key_path(id, key));
                    sent.push_back({key, std::nullopt, true});
                    break;
                case 1:
                    bytes += request("PUT", key_path(id, key + "?ttl_secs=60"), org_one_auth, value);
                    sent.push_back({key, std::nullopt, false});  // expired by the end
                    break;
                default:
                    bytes += request("PUT", key_path(id, key), org_one_auth, value);
                    sent.push_back({key, value, false});
            }
        }
        c.send(bytes);
        for (const auto& [key, value, deleting] : sent) {
            const std::optional<response> answer = c.read_response(30'000);
            ASSERT_TRUE(answer) << key;
            // A DELETE answers 204 (the key there or not), a PUT 201 for a
            // new key and 200 for one it replaces.
            const bool done = deleting ? answer->status == 204 : answer->status == 201 || answer->status == 200;
            ASSERT_TRUE(done) << key << ": " << answer->status << " " << answer->body;
            out[key] = value;
        }
    }
}

void advance_clock(std::uint16_t port, std::uint64_t ms) {
    const response r = call(port, "POST", "/_ringkv/clock", "", R"({"advance_ms":)" + std::to_string(ms) + "}");
    ASSERT_EQ(r.status, 200) << r.body;
}

TEST(snapshot_race, snapshots_written_while_keys_change_and_expire_keep_every_acknowledged_change) {
    temp_dir dir;
    std::string id;
    expected state;
    {
        server_process server({"--threads", "2", "--data-dir", dir.path(), "--log", "always"});
        const std::uint16_t port = server.port();
        id = create_namespace(port, "race");
        fill(port, id);
        std::vector<expected> written(writers);
        std::atomic<int> running{writers};
        std::vector<std::thread> threads;
        for (int w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                write_rounds(port, id, w, written[w]);
                running.fetch_sub(1);
            });
        }
        // The clock moves past every TTL again and again: the cores expire
        // items (frozen ones among them) while parts are written.
        std::thread clock([&] {
            while (running.load() > 0) {
                advance_clock(port, 61'000);
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
        int snapshots = 0;
        while (running.load() > 0 || snapshots < snapshots_min) {
            const response r = call(port, "POST", "/_ringkv/snapshot", "");
            ASSERT_TRUE(r.status == 200 || r.status == 409) << r.status << ": " << r.body;
            if (r.status == 200) ++snapshots;
        }
        for (std::thread& t : threads) t.join();
        clock.join();
        ASSERT_FALSE(::testing::Test::HasFailure());
        advance_clock(port, 61'000);  // every TTL key written has expired
        // The server lived through it (under TSan a race ends it).
        EXPECT_EQ(call(port, "GET", "/healthz", "").status, 200);
        // The last snapshot written while the keys changed, and the log
        // after it: a crash now restarts from exactly that.
        ::kill(server.pid(), SIGKILL);
        server.stop();
        for (const expected& e : written) state.insert(e.begin(), e.end());
    }
    ASSERT_EQ(state.size(), std::size_t(writers * keys_per_writer));
    server_process server({"--threads", "2", "--data-dir", dir.path(), "--log", "always"});
    const std::uint16_t port = server.port();
    for (const auto& [key, value] : state) {
        const response r = call(port, "GET", key_path(id, key));
        if (value) {
            EXPECT_EQ(r.status, 200) << key;
            EXPECT_EQ(r.body, *value) << key;
        } else {
            EXPECT_EQ(r.status, 404) << key << ": " << r.body;
        }
    }
    EXPECT_EQ(call(port, "GET", key_path(id, "filler-0")).body, std::string(200, 'f'));
    // A stop under the thread: the SIGTERM snapshot, then a clean exit.
    EXPECT_EQ(server.stop(30'000), 0);
}

}  // namespace
}  // namespace ringkv::testing
