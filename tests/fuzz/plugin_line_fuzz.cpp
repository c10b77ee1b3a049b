// The plugin protocol's line codec (shared/muster/protocol/plugin_frame.hpp) on arbitrary
// bytes: as a line from a plugin (decode_plugin_line, what the host reads) and as a line
// from the host (decode_host_line, what a C++ plugin reads). Promises checked: decoding
// never crashes or throws; a refusal is `invalid` with a message; a decoded line encodes
// to a line that decodes again to the same encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.hpp"
#include "muster/protocol/plugin_frame.hpp"

namespace {

using muster::Errc;
namespace protocol = muster::protocol;

std::string encode_host_line(const protocol::HostLine& line) {
  struct Visitor {
    std::string operator()(const protocol::PluginInit& init) const { return protocol::encode_plugin_init(init); }
    std::string operator()(const protocol::EventFrame& f) const { return protocol::encode(protocol::ServerFrame{f}); }
    std::string operator()(const protocol::Ack& a) const { return protocol::encode(protocol::ServerFrame{a}); }
    std::string operator()(const protocol::CaughtUp& c) const { return protocol::encode(protocol::ServerFrame{c}); }
    std::string operator()(const protocol::ErrorFrame& e) const { return protocol::encode(protocol::ServerFrame{e}); }
  };
  return std::visit(Visitor{}, line);
}

template <class Decode, class Encode>
void round_trip(std::string_view text, Decode decode, Encode encode) {
  auto line = decode(text);
  if (!line) {
    FUZZ_CHECK(line.error().code == Errc::invalid, line.error().message);
    FUZZ_CHECK(!line.error().message.empty(), std::string(text));
    return;
  }
  const std::string once = encode(*line);
  FUZZ_CHECK(once.find('\n') == std::string::npos, once);  // one line on the pipe
  auto again = decode(once);
  FUZZ_CHECK(again.ok(), "input: " + std::string(text) + "\nencoded: " + once + "\nrefused: " + again.error().message);
  const std::string twice = encode(*again);
  FUZZ_CHECK(twice == once, "input: " + std::string(text) + "\nencoded: " + once + "\nthen: " + twice);
  FUZZ_CHECK(again->index() == line->index(), once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip(
      text, [](std::string_view t) { return protocol::decode_plugin_line(t); },
      [](const protocol::PluginLine& l) { return protocol::encode(l); });
  round_trip(
      text, [](std::string_view t) { return protocol::decode_host_line(t); }, encode_host_line);
  return 0;
}
