#pragma once
// The handlers behind each route, called by the service once on_head has
// accepted the request (see service.cc for the checks that come first).

#include "owner.hh"
#include "plan.hh"

#include <ringkv/api/service.hh>
#include <ringkv/io/task.hh>
#include <ringkv/net/http/request.hh>
#include <ringkv/net/http/response.hh>

#include <optional>
#include <string_view>

namespace ringkv::api {

io::task<> create_namespace(const api_options& options, plan& p, net::http::request& request,
                            net::http::response_writer& writer);
void list_namespaces(plan& p, net::http::response_writer& writer);
void retrieve_namespace(plan& p, net::http::response_writer& writer);
io::task<> delete_namespace(const api_options& options, plan& p, net::http::response_writer& writer);

io::task<> put_key(plan& p, net::http::request& request, net::http::response_writer& writer);
// A PUT's body and Content-Type as checked before anything is stored: the
// error to answer, or none.
std::optional<net::http::error> put_refusal(const net::http::request& request);
std::string_view content_type_of(const net::http::request& request);  // the default when absent
// The answer of a PUT or DELETE that ran (stored: the log took the erase).
void write_put_answer(put_outcome result, net::http::response_writer& writer);
void write_delete_answer(bool stored, net::http::response_writer& writer);
// Never suspends: the owner's shard is read in place (store/concurrent_read.hh).
void get_key(plan& p, net::http::response_writer& writer);
io::task<> delete_key(plan& p, net::http::response_writer& writer);
io::task<> list_keys(const api_options& options, plan& p, net::http::response_writer& writer);

}  // namespace ringkv::api
