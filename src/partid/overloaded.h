// partid: the usual visitor helper for std::visit over a variant with one
// lambda per alternative (the standard library has none).
#pragma once

namespace partid {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

}  // namespace partid
