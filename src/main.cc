// ringkv: parse the command line, then run the server.
#include "app/app.hh"

#include <ringkv/config/config.hh>

#include <cstdio>
#include <variant>

int main(int argc, char** argv) {
    auto parsed = ringkv::config::parse(argc, argv);
    if (auto* stop = std::get_if<ringkv::config::exit_now>(&parsed)) {
        std::fputs(stop->text.c_str(), stop->status == 0 ? stdout : stderr);
        return stop->status;
    }
    return ringkv::app::run(std::get<ringkv::config::config>(parsed));
}
