#pragma once
// The API as the HTTP layer sees it: routes requests and answers them.
// One service per core; it holds no state shared with other cores.

#include <ringkv/net/http/handler.hh>

namespace ringkv::api {

class service final : public net::http::handler {
public:
    net::http::head_verdict on_head(const net::http::request_head& head,
                                    net::http::response_writer& writer) override;
    io::task<> on_request(net::http::request& request, net::http::response_writer& writer) override;
};

}  // namespace ringkv::api
