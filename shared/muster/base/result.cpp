#include "muster/base/result.hpp"

namespace muster {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::invalid: return "invalid";
    case Errc::forbidden: return "forbidden";
    case Errc::conflict: return "conflict";
    case Errc::not_found: return "not_found";
    case Errc::unavailable: return "unavailable";
    case Errc::rate_limited: return "rate_limited";
  }
  return "invalid";
}

Errc errc_from_string(std::string_view text) {
  for (Errc c : {Errc::invalid, Errc::forbidden, Errc::conflict, Errc::not_found, Errc::unavailable, Errc::rate_limited}) {
    if (to_string(c) == text) return c;
  }
  return Errc::invalid;
}

}  // namespace muster
