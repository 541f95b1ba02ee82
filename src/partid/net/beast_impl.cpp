// net: Beast's non-template code, compiled once (the build defines
// BOOST_BEAST_SEPARATE_COMPILATION, so no other file compiles it).
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/beast/src.hpp>
