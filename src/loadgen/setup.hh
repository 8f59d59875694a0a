#pragma once
// Before and after a run, over plain blocking sockets: connect (with a
// time limit), create the namespace, fill the keys, delete the namespace.
// Every failure is a one-line message for the user.

#include <ringkv/loadgen/options.hh>

#include <string>

namespace ringkv::loadgen {

// A connected TCP socket, or -1 with `error` set.
int connect_to(const options& o, std::string& error);

// Each returns an empty string on success, else the message. `token` is
// the organization's (token_of()).
std::string create_namespace(const options& o, const std::string& token, std::string& id);
// A --namespace given by the user must exist for the token.
std::string check_namespace(const options& o, const std::string& token, const std::string& id);
std::string fill_keys(const options& o, const std::string& token, const std::string& id);
std::string delete_namespace(const options& o, const std::string& token, const std::string& id);

// The server's stats window (--server-stats): restart it, or read it (the
// JSON of GET /_ringkv/stats into `json`).
std::string reset_server_stats(const options& o);
std::string read_server_stats(const options& o, std::string& json);

}  // namespace ringkv::loadgen
