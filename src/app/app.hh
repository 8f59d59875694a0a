#pragma once
// Wires the pieces: one thread per core, each with its loop, server and
// service; core 0 runs on the calling thread and owns signal handling.

#include <ringkv/config/config.hh>

namespace ringkv::app {

// Runs until SIGINT/SIGTERM; returns the process exit status.
int run(const config::config& settings);

}  // namespace ringkv::app
