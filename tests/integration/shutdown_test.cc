// SIGTERM with work still arriving: a core that has drained keeps answering
// its peers' calls, and work they start on it (a write to its log) ends
// before the process exits. Under ASan a coroutine left suspended at exit is
// a leak report and exit status 1; in any build a write it acknowledged is
// on disk for the next start.

#include "harness.hh"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <thread>

namespace ringkv::testing {
namespace {

constexpr int connections = 8;
constexpr int rounds = 3;

// One round: every connection holds a PUT short of its last body bytes when
// SIGTERM comes; once the shutdown snapshot is done, they finish one by one,
// each with more PUTs pipelined behind. The last ones come from one core
// while the other has drained, and most of their keys are the other core's.
void writes_after_a_core_drained(const std::string& dir, int round, std::vector<std::string>& acknowledged,
                                 std::string& namespace_id) {
    const std::string prefix = std::to_string(round) + "-";
    server_process server({"--threads", "2", "--data-dir", dir, "--log", "everysec"});
    if (namespace_id.empty()) namespace_id = create_namespace(server.port(), "drain");
    std::vector<std::unique_ptr<client>> open;
    std::vector<std::string> rests;
    for (int c = 0; c < connections; ++c) {
        const std::string key = prefix + "held-" + std::to_string(c);
        const std::string whole = request("PUT", key_path(namespace_id, key), org_one_auth, "value-" + key);
        open.push_back(std::make_unique<client>(server.port()));
        open.back()->send(whole.substr(0, whole.size() - 3));
        rests.push_back(whole.substr(whole.size() - 3));
    }
    // Every connection has sent its head before the signal.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    for (int c = 0; c < connections; ++c) {
        std::string bytes = rests[c];
        std::vector<std::string> keys{prefix + "held-" + std::to_string(c)};
        for (int k = 0; k < 16; ++k) {
            keys.push_back(prefix + "late-" + std::to_string(c) + "-" + std::to_string(k));
            bytes += request("PUT", key_path(namespace_id, keys.back()), org_one_auth, "late");
        }
        open[c]->send(bytes);
        // Answered in order; the server closes the connection (it is
        // stopping) after some of them.
        for (const std::string& key : keys) {
            const std::optional<response> answer = open[c]->read_response(5000);
            if (!answer) break;
            EXPECT_EQ(answer->status, 201) << key;
            if (answer->status == 201) acknowledged.push_back(key);
        }
        EXPECT_TRUE(open[c]->closed_by_server());
        open[c].reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(server.stop(), 0);
}

TEST(shutdown, writes_a_drained_core_takes_from_its_peer_end_before_exit_and_survive_a_restart) {
    temp_dir dir;
    std::vector<std::string> acknowledged;
    std::string namespace_id;
    for (int round = 0; round < rounds && !::testing::Test::HasFailure(); ++round) {
        writes_after_a_core_drained(dir.path(), round, acknowledged, namespace_id);
    }
    ASSERT_FALSE(namespace_id.empty());
    EXPECT_GE(acknowledged.size(), std::size_t(connections * rounds));
    server_process server({"--threads", "2", "--data-dir", dir.path(), "--log", "off"});
    for (const std::string& key : acknowledged) {
        EXPECT_EQ(call(server.port(), "GET", key_path(namespace_id, key)).status, 200) << key;
    }
    EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ringkv::testing
