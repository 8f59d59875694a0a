// Pipelined writes batched per owner core (src/api/write_batch.hh), through
// the real binary on two threads: every answer in request order on one
// reused connection, reads that see the writes before them, checks that
// fail in the middle of a batch, and a flood that does not starve others.
#include "harness.hh"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace ringkv::testing {
namespace {

const std::string auth = "Authorization: Bearer org-one\r\n";

std::string request(const std::string& method, const std::string& path, const std::optional<std::string>& body = {},
                    const std::string& headers = auth) {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: t\r\n" + headers;
    if (body) r += "Content-Length: " + std::to_string(body->size()) + "\r\n";
    return r + "\r\n" + body.value_or("");
}

// What one pipelined request must answer: its status and, when set, its body.
struct expected {
    int status;
    std::optional<std::string> body = {};
    bool head = false;
};

class pipeline_test : public ::testing::Test {
protected:
    explicit pipeline_test(std::vector<std::string> args = {"--threads", "2", "--server-timing"})
        : server(std::move(args)) {}

    server_process server;

    // A clean exit, checked at the end of every test: a sanitizer report
    // (TSan in scripts/test halts on the first) stops the server with a
    // failing status, which the harness's destructor alone would ignore.
    void TearDown() override {
        if (server.pid() > 0) {
            EXPECT_EQ(server.stop(), 0) << "the server's exit status";
        }
    }

    response call(const std::string& method, const std::string& path, const std::optional<std::string>& body = {}) {
        client c(server.port());
        c.send(request(method, path, body));
        auto r = c.read_response(5000, method == "HEAD");
        EXPECT_TRUE(r) << method << " " << path;
        return r.value_or(response{});
    }
    std::string create(const std::string& name) {
        const response r = call("POST", "/v2/storage/kvs", R"({"name":")" + name + "\"}");
        EXPECT_EQ(r.status, 201) << r.body;
        return json_string(r.body, "id");
    }
    static std::string key_path(const std::string& id, const std::string& key) {
        return "/v2/storage/kvs/" + id + "/keys/" + key;
    }
    // ringkv_keys{core="N"} from /metrics.
    std::array<long, 2> keys_per_core() {
        const response r = call("GET", "/metrics");
        std::array<long, 2> keys{};
        for (unsigned core = 0; core < 2; ++core) {
            const std::string series = "ringkv_keys{core=\"" + std::to_string(core) + "\"} ";
            const std::size_t at = r.body.find(series);
            EXPECT_NE(at, std::string::npos);
            if (at != std::string::npos) keys[core] = std::strtol(r.body.c_str() + at + series.size(), nullptr, 10);
        }
        return keys;
    }
    // ringkv_cross_core_messages_total, summed over the cores.
    long cross_core_messages() {
        const response r = call("GET", "/metrics");
        long total = 0;
        for (unsigned core = 0; core < 2; ++core) {
            const std::string series = "ringkv_cross_core_messages_total{core=\"" + std::to_string(core) + "\"} ";
            const std::size_t at = r.body.find(series);
            EXPECT_NE(at, std::string::npos);
            if (at != std::string::npos) total += std::strtol(r.body.c_str() + at + series.size(), nullptr, 10);
        }
        return total;
    }
    // `count` keys owned by each core: the placement hash is seeded per
    // process, so each candidate is stored alone and the per-core key count
    // says where it went. They are deleted again.
    std::array<std::vector<std::string>, 2> keys_by_owner(const std::string& id, std::size_t count) {
        std::array<std::vector<std::string>, 2> owned;
        for (int n = 0; owned[0].size() < count || owned[1].size() < count; ++n) {
            EXPECT_LT(n, 200) << "the placement is far from even";
            if (n >= 200) break;
            const std::string key = "key-" + std::to_string(n);
            const std::array<long, 2> before = keys_per_core();
            EXPECT_EQ(call("PUT", key_path(id, key), std::string("x")).status, 201);
            const std::array<long, 2> after = keys_per_core();
            const unsigned owner = after[0] > before[0] ? 0 : 1;
            EXPECT_EQ(after[owner], before[owner] + 1);
            if (owned[owner].size() < count) owned[owner].push_back(key);
            EXPECT_EQ(call("DELETE", key_path(id, key)).status, 204);
        }
        return owned;
    }
    // Sends every request in one write on one connection, then checks each
    // answer in order.
    void pipeline(client& c, const std::vector<std::string>& requests, const std::vector<expected>& answers) {
        ASSERT_EQ(requests.size(), answers.size());
        std::string all;
        for (const std::string& r : requests) all += r;
        c.send(all);
        for (std::size_t i = 0; i < answers.size(); ++i) {
            const auto r = c.read_response(5000, answers[i].head);
            ASSERT_TRUE(r) << "answer " << i << " missing";
            EXPECT_EQ(r->status, answers[i].status) << "answer " << i << ": " << r->body;
            if (answers[i].body) {
                EXPECT_EQ(r->body, *answers[i].body) << "answer " << i;
            }
            EXPECT_FALSE(r->header("server-timing").empty()) << "answer " << i;
        }
    }
};

TEST_F(pipeline_test, mixed_writes_and_reads_on_both_cores_answer_in_order_and_read_their_writes) {
    const std::string id = create("pipelined");
    const auto owned = keys_by_owner(id, 3);
    const std::string& a0 = owned[0][0];
    const std::string& a1 = owned[0][1];
    const std::string& a2 = owned[0][2];
    const std::string& b0 = owned[1][0];
    const std::string& b1 = owned[1][1];
    const std::string& b2 = owned[1][2];
    const std::string not_a_namespace = "/v2/storage/kvs/00000000-0000-4000-8000-000000000000/keys/x";
    const std::string empty_chunked = "PUT " + key_path(id, a2) +
                                      " HTTP/1.1\r\nHost: t\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    const std::string long_type = "PUT " + key_path(id, b2) + " HTTP/1.1\r\nHost: t\r\n" + auth +
                                  "Content-Type: " + std::string(300, 't') + "\r\nContent-Length: 1\r\n\r\nz";
    client c(server.port());  // one connection for every round
    for (int round = 0; round < 3; ++round) {
        const std::string v = "r" + std::to_string(round) + "-";
        const int fresh = round == 0 ? 201 : 200;  // a0 and b0 live on from the round before
        std::vector<std::string> requests = {
            request("PUT", key_path(id, a0), v + "a0"),
            request("PUT", key_path(id, b0), v + "b0"),
            request("PUT", key_path(id, a1), v + "a1"),
            request("DELETE", key_path(id, b1)),  // absent: still 204
            request("PUT", key_path(id, b1), v + "b1"),  // b1 again: a new batch, after the DELETE
            request("GET", key_path(id, a0)),  // reads see the batch before them
            request("GET", key_path(id, b0)),
            request("PUT", key_path(id, a0), v + "a0-2"),
            request("PUT", not_a_namespace, std::string("x")),  // answered at head, mid-batch
            request("PUT", key_path(id, b0), v + "b0-2"),
            empty_chunked,  // refused inside the batch: 400
            long_type,      // 415
            request("PUT", key_path(id, "_bad"), std::string("x")),  // 400 at head
            request("DELETE", key_path(id, a1)),
            request("HEAD", key_path(id, a1)),
            request("GET", key_path(id, b0)),
            request("GET", key_path(id, a0)),
            request("GET", "/v2/storage/kvs/" + id + "/keys"),
            request("DELETE", key_path(id, b1)),
            request("GET", key_path(id, b1)),
        };
        const std::vector<expected> answers = {
            {fresh},
            {fresh},
            {201},
            {204},
            {201},
            {200, v + "a0"},
            {200, v + "b0"},
            {200},
            {404},
            {200},
            {400},
            {415},
            {400},
            {204},
            {404, {}, true},
            {200, v + "b0-2"},
            {200, v + "a0-2"},
            {200},
            {204},
            {404},
        };
        pipeline(c, requests, answers);
    }
    // The listing at the end of a round saw a0 and b0 (a1 and b1 deleted).
    const response listed = call("GET", "/v2/storage/kvs/" + id + "/keys");
    EXPECT_NE(listed.body.find("\"key\":\"" + a0 + "\""), std::string::npos) << listed.body;
    EXPECT_NE(listed.body.find("\"key\":\"" + b0 + "\""), std::string::npos) << listed.body;
    EXPECT_EQ(listed.body.find("\"key\":\"" + a1 + "\""), std::string::npos) << listed.body;
}

TEST_F(pipeline_test, a_batch_of_writes_costs_one_message_to_the_other_core) {
    const std::string id = create("one-message");
    const auto owned = keys_by_owner(id, 8);
    std::vector<std::string> requests;
    std::vector<expected> answers;
    for (unsigned core = 0; core < 2; ++core) {
        for (std::size_t i = 0; i < 8; ++i) {
            requests.push_back(request("PUT", key_path(id, owned[core][i]), std::string("v")));
            answers.push_back({201});
        }
    }
    // What reading /metrics itself sends (it asks the other core).
    const long idle = cross_core_messages();
    const long metrics_cost = cross_core_messages() - idle;
    const long before = cross_core_messages();
    client c(server.port());
    pipeline(c, requests, answers);
    const long sent = cross_core_messages() - before - metrics_cost;
    // Two batches, one per owner; 8 of the 16 writes belong to the other
    // core: one call and one reply for all of them (16 without batching).
    EXPECT_EQ(sent, 2) << "metrics cost " << metrics_cost;
}

TEST_F(pipeline_test, long_runs_of_writes_split_into_batches_and_keep_their_order) {
    const std::string id = create("runs");
    const auto owned = keys_by_owner(id, 2);
    // 40 writes alternating between the cores over four keys (more than one
    // batch holds, and every key repeats), then reads of the last values.
    std::vector<std::string> requests;
    std::vector<expected> answers;
    std::array<std::string, 4> keys = {owned[0][0], owned[1][0], owned[0][1], owned[1][1]};
    std::array<bool, 4> stored{};
    for (int i = 0; i < 40; ++i) {
        const std::size_t k = std::size_t(i) % keys.size();
        requests.push_back(request("PUT", key_path(id, keys[k]), "v" + std::to_string(i)));
        answers.push_back({stored[k] ? 200 : 201});
        stored[k] = true;
    }
    for (std::size_t k = 0; k < keys.size(); ++k) {
        requests.push_back(request("GET", key_path(id, keys[k])));
        answers.push_back({200, "v" + std::to_string(36 + k)});
    }
    client c(server.port());
    pipeline(c, requests, answers);
    pipeline(c, requests, [&] {
        std::vector<expected> again = answers;
        for (std::size_t i = 0; i < 40; ++i) again[i].status = 200;
        return again;
    }());
}

TEST_F(pipeline_test, a_flood_of_pipelined_writes_does_not_starve_another_connection) {
    const std::string id = create("flood");
    constexpr int flood_requests = 4000;
    std::string flood;
    for (int i = 0; i < flood_requests; ++i) {
        flood += request("PUT", key_path(id, "f" + std::to_string(i % 500)), std::string(64, 'v'));
    }
    client flooder(server.port());
    // Sent from a thread, and nothing read yet: once the answers back up the
    // server stops reading this connection, and the send blocks.
    std::thread sender([&flooder, &flood] { flooder.send(flood); });
    bool served = true;
    for (int i = 0; i < 20 && served; ++i) {
        client other(server.port());
        other.send(request("PUT", key_path(id, "other"), "o" + std::to_string(i)) +
                   request("GET", key_path(id, "other")));
        const auto put = other.read_response(2000);
        const auto got = other.read_response(2000);
        served = put && got && (put->status == 201 || put->status == 200) && got->body == "o" + std::to_string(i);
        EXPECT_TRUE(served) << "the other connection was not served at round " << i;
    }
    int answered = 0;
    for (; answered < flood_requests; ++answered) {
        const auto r = flooder.read_response(10000);
        if (!r || r->status != (answered < 500 ? 201 : 200)) break;
    }
    EXPECT_EQ(answered, flood_requests) << "the flood's answers stopped or went wrong there";
    if (answered != flood_requests) ::shutdown(flooder.fd(), SHUT_RDWR);  // unblock the sender
    sender.join();
}

TEST_F(pipeline_test, other_connections_see_pipelined_writes_to_two_owners_in_request_order) {
    const std::string id = create("order");
    const auto owned = keys_by_owner(id, 2);
    // Written in this order each round: a (core 0), b (core 1), c (core 0).
    // Whichever core the writer's connection is on, one of b or c, or a
    // or b, is the other core's: a batch spanning both would let the
    // coordinator's own write be seen before the earlier one it sent away.
    const std::array<std::string, 3> keys = {owned[0][0], owned[1][0], owned[0][1]};
    for (const std::string& k : keys) EXPECT_EQ(call("PUT", key_path(id, k), std::string("0")).status, 201);
    constexpr int rounds = 1000;
    std::atomic<bool> writing = true;
    std::thread writer([&] {
        client c(server.port());
        for (int i = 1; i <= rounds; ++i) {
            std::string all;
            for (const std::string& k : keys) all += request("PUT", key_path(id, k), std::to_string(i));
            c.send(all);
            for (std::size_t k = 0; k < keys.size(); ++k) {
                const auto r = c.read_response();
                if (!r || r->status != 200) {
                    ADD_FAILURE() << "round " << i << " write " << k << ": " << (r ? r->body : "no answer");
                    writing = false;
                    return;
                }
            }
        }
        writing = false;
    });
    // Readers read in the reverse order (c, b, a): each value read must be
    // at most the one read after it, as request order makes it.
    std::atomic<long> reads = 0, out_of_order = 0;
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&] {
            client c(server.port());
            while (writing) {
                c.send(request("GET", key_path(id, keys[2])) + request("GET", key_path(id, keys[1])) +
                       request("GET", key_path(id, keys[0])));
                std::array<long, 3> seen{};
                for (std::size_t k = 3; k-- > 0;) {
                    const auto got = c.read_response();
                    if (!got || got->status != 200) {
                        ADD_FAILURE() << "a read failed: " << (got ? got->body : "no answer");
                        return;
                    }
                    seen[k] = std::strtol(got->body.c_str(), nullptr, 10);
                }
                ++reads;
                if (seen[2] > seen[1] || seen[1] > seen[0]) ++out_of_order;
            }
        });
    }
    writer.join();
    for (std::thread& t : readers) t.join();
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(out_of_order.load(), 0) << "of " << reads.load() << " reads";
}

class pipeline_log_test : public pipeline_test {
protected:
    static std::string data_dir() {
        static const std::string dir = [] {
            const std::string d = ::testing::TempDir() + "ringkv-pipeline-" + std::to_string(::getpid());
            std::filesystem::remove_all(d);
            std::filesystem::create_directories(d);
            return d;
        }();
        return dir;
    }
    pipeline_log_test() : pipeline_test({"--threads", "2", "--server-timing", "--data-dir", data_dir(), "--log", "always"}) {}
    explicit pipeline_log_test(std::vector<std::string> args) : pipeline_test(std::move(args)) {}
    ~pipeline_log_test() override { std::filesystem::remove_all(data_dir()); }
};

TEST_F(pipeline_log_test, batched_writes_are_on_disk_when_answered) {
    const std::string id = create("durable");
    std::vector<std::string> requests;
    std::vector<expected> answers;
    for (int i = 0; i < 24; ++i) {
        requests.push_back(request(i % 3 == 2 ? "DELETE" : "PUT", key_path(id, "k" + std::to_string(i / 3 * 3 + i % 3 % 2)),
                                   i % 3 == 2 ? std::nullopt : std::optional<std::string>("v" + std::to_string(i))));
        answers.push_back({i % 3 == 2 ? 204 : 201});
    }
    {
        client c(server.port());
        pipeline(c, requests, answers);
    }
    // Answered means durable: a restart from the directory has them.
    EXPECT_EQ(server.stop(), 0);
    server_process again({"--threads", "2", "--data-dir", data_dir(), "--log", "always"});
    for (int group = 0; group < 8; ++group) {
        client c(again.port());
        // k(3g) was put then deleted; k(3g+1) keeps its value.
        c.send(request("GET", key_path(id, "k" + std::to_string(group * 3))) +
               request("GET", key_path(id, "k" + std::to_string(group * 3 + 1))));
        const auto deleted = c.read_response();
        ASSERT_TRUE(deleted);
        EXPECT_EQ(deleted->status, 404) << group;
        const auto kept = c.read_response();
        ASSERT_TRUE(kept);
        EXPECT_EQ(kept->body, "v" + std::to_string(group * 3 + 1)) << group;
    }
    EXPECT_EQ(again.stop(), 0);
}

class pipeline_journal_test : public pipeline_log_test {
protected:
    pipeline_journal_test()
        : pipeline_log_test({"--threads", "2", "--server-timing", "--data-dir", data_dir(), "--log", "always",
                             "--journal", "1000"}) {}
};

TEST_F(pipeline_journal_test, the_journal_lists_a_batched_write_only_with_its_answer) {
    const std::string id = create("journal");
    // Each batch waits for its records to reach the disk before it is
    // answered: the journal is read meanwhile, again and again.
    std::atomic<bool> stop = false;
    std::thread writer([&] {
        client c(server.port());
        std::string batch;
        for (int i = 0; i < 16; ++i) batch += request("PUT", key_path(id, "k" + std::to_string(i)), std::string("v"));
        while (!stop) {
            c.send(batch);
            for (int i = 0; i < 16; ++i) {
                const auto r = c.read_response();
                if (!r || (r->status != 201 && r->status != 200)) {
                    ADD_FAILURE() << "write " << i << ": " << (r ? r->body : "no answer");
                    return;
                }
            }
        }
    });
    int puts_listed = 0;
    for (int poll = 0; poll < 300 && !HasFailure(); ++poll) {
        const response listed = call("GET", "/_ringkv/requests?limit=40");
        if (listed.status != 200) {
            ADD_FAILURE() << "the journal: " << listed.status << " " << listed.body;
            break;
        }
        for (std::size_t at = listed.body.find("\"method\":\"PUT\""); at != std::string::npos;
             at = listed.body.find("\"method\":\"PUT\"", at + 1)) {
            ++puts_listed;
            const std::string entry = listed.body.substr(at, listed.body.find('}', at) - at);
            EXPECT_EQ(entry.find("\"status\":0,"), std::string::npos) << entry;
            EXPECT_EQ(entry.find("\"bytes_out\":0,"), std::string::npos) << entry;
        }
    }
    stop = true;
    writer.join();
    EXPECT_GT(puts_listed, 0);
}

}  // namespace
}  // namespace ringkv::testing
