// core: Asio's non-template code, compiled once for every target (the build
// defines BOOST_ASIO_SEPARATE_COMPILATION, so no other file compiles it).
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/impl/src.hpp>
