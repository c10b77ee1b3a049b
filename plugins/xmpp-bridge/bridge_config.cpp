#include "xmpp-bridge/bridge_config.hpp"

#include <algorithm>
#include <cctype>

#include "muster/base/json_fields.hpp"
#include "muster/domain/actor.hpp"

namespace xmpp_bridge {

namespace {

muster::Error bad(const std::string& message) { return muster::make_error(muster::Errc::invalid, message); }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

muster::Result<BridgeConfig> parse_bridge_config(const nlohmann::json& j) {
  BridgeConfig c;
  if (!j.is_object()) return bad("the config must be a JSON object");
  muster::JsonFields r(j, muster::FieldWording::config("config"));
  auto text = [&](const char* key, std::string& into, bool required) {
    if (auto v = required ? r.required_string(key) : r.optional_string(key)) into = *v;
  };
  auto number = [&](const char* key, int& into, int min, int max) {
    if (auto v = r.optional_int(key, min, max)) into = static_cast<int>(*v);
  };
  auto flag = [&](const char* key, bool& into) {
    if (auto v = r.optional_bool(key)) into = *v;
  };
  std::string tls = "required";
  text("jid", c.jid, true);
  text("resource", c.resource, false);
  text("password_file", c.password_file, true);
  text("host", c.host, false);
  text("tls", tls, false);
  text("area", c.area, false);
  text("state", c.state, false);
  text("dispatch", c.dispatch, false);
  number("port", c.port, 0, 65535);
  number("max_open_requests", c.max_open_requests, 1, 1000);
  number("orphan_exit_after_s", c.orphan_exit_after_s, 0, 100000000);
  flag("open_registration", c.open_registration);
  flag("trust_tls", c.trust_tls);
  text("log_level", c.log_level, false);
  if (!r.ok()) return r.error();
  if (c.jid.find('@') == std::string::npos || c.jid.find('/') != std::string::npos) {
    return bad("config: \"jid\" must be a bare JID, e.g. helper@chat.example.org");
  }
  if (c.resource.empty()) return bad("config: \"resource\" must not be empty");
  if (tls == "required") {
    c.tls = TlsMode::required;
  } else if (tls == "optional") {
    c.tls = TlsMode::optional;
  } else if (tls == "off") {
    c.tls = TlsMode::off;
  } else {
    return bad("config: \"tls\" must be required, optional or off");
  }
  if (!c.area.empty() && !muster::domain::valid_area_path(c.area)) return bad("config: \"area\" is not an area path");
  if (!c.dispatch.empty() && c.dispatch != "offer" && c.dispatch != "claim") {
    return bad("config: \"dispatch\" must be offer or claim");
  }
  if (c.state.empty()) return bad("config: \"state\" must name a file");
  if (c.log_level != "trace" && c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return bad("config: unknown \"log_level\" '" + c.log_level + "' (one of trace, debug, info, warn, error)");
  }
  if (const auto* residents = r.value("residents"); residents && !residents->is_null()) {
    if (!residents->is_array() ||
        !std::all_of(residents->begin(), residents->end(), [](const auto& v) { return v.is_string(); })) {
      return bad("config: \"residents\" must be a list of JIDs");
    }
    for (const auto& v : *residents) c.residents.push_back(lower(v.get<std::string>()));
  }
  if (c.residents.empty() && !c.open_registration) {
    return bad("config: list the \"residents\" who may ask, or set \"open_registration\": true");
  }
  return c;
}

bool resident_allowed(const BridgeConfig& config, const std::string& bare_jid) {
  if (config.open_registration) return true;
  return std::find(config.residents.begin(), config.residents.end(), lower(bare_jid)) != config.residents.end();
}

}  // namespace xmpp_bridge
