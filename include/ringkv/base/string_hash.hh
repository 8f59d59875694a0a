#pragma once
// A transparent hash for unordered containers keyed by std::string, so they
// are searched with a std::string_view and no std::string is built.

#include <cstddef>
#include <functional>
#include <string_view>

namespace ringkv::base {

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace ringkv::base
