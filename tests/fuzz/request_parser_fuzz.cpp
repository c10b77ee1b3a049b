// The chat bridge's reading of residents' messages (plugins/xmpp-bridge/request_parser.hpp)
// on arbitrary text. Promises checked: it never crashes or throws; the language is the
// one detect_language() gives; an errand has a known category, non-empty items and an
// address, and the building of that address; a cancel has a number of at most six
// digits; valid UTF-8 in gives valid UTF-8 out (the parts end up in JSON); area_for()
// answers the served area or one of the known areas below it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "muster/base/utf8.hpp"
#include "muster/domain/actor.hpp"
#include "xmpp-bridge/request_parser.hpp"

namespace {

using namespace xmpp_bridge;

const std::string kServed = "gulou/antai/yili";
const std::vector<std::string> kAreas{"gulou",
                                      "gulou/antai",
                                      kServed,
                                      "gulou/antai/yili/b3",
                                      "gulou/antai/yili/5号楼",
                                      "gulou/antai/yili/7幢",
                                      "gulou/antai/yili/b12",
                                      "gulou/antai/yili/building2",
                                      "gulou/antai/yili/9",
                                      "gulou/antai/heping/b3"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string input(text);
  const bool utf8 = muster::valid_utf8(text);

  const Parsed parsed = parse_message(text);
  FUZZ_CHECK(parsed.lang == detect_language(text), input);
  if (const auto* errand = std::get_if<ErrandRequest>(&parsed.command)) {
    FUZZ_CHECK(errand->category == "代买" || errand->category == "买药" || errand->category == "buy", errand->category);
    FUZZ_CHECK(!errand->items.empty(), input);
    for (const auto& item : errand->items) {
      FUZZ_CHECK(!item.empty(), input);
      FUZZ_CHECK(!utf8 || muster::valid_utf8(item), input + "\nitem: " + item);
    }
    FUZZ_CHECK(!errand->address.empty(), input);
    FUZZ_CHECK(!utf8 || muster::valid_utf8(errand->address), input + "\naddress: " + errand->address);
    FUZZ_CHECK(errand->building == building_of(errand->address), input);
  } else if (const auto* cancel = std::get_if<CancelCommand>(&parsed.command)) {
    FUZZ_CHECK(cancel->number >= 0 && cancel->number <= 999999, input);
  }

  const auto building = building_of(text);
  if (building) FUZZ_CHECK(*building >= 0 && *building <= 9999, input);
  const std::string area = area_for(building, kServed, kAreas);
  FUZZ_CHECK(area == kServed || (std::find(kAreas.begin(), kAreas.end(), area) != kAreas.end() &&
                                 muster::domain::area_contains(kServed, area)),
             input + "\narea: " + area);
  return 0;
}
