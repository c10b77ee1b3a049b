#include <algorithm>

#include "musterd/core/dispatcher.hpp"
#include "musterd/core/queries/queries.hpp"

namespace musterd {

namespace domain = muster::domain;
namespace protocol = muster::protocol;
using muster::Errc;

protocol::QueryResult notice_status(const QueryContext& c, const protocol::Query& q) {
  const domain::Actor& actor = c.actor;
  protocol::QueryResult r;
  r.id = q.id;
  auto fail = [&q](Errc code, std::string message) { return query_error(q, code, std::move(message)); };
  auto id_it = q.args.find("notice");
  if (id_it == q.args.end() || !id_it->is_string()) return fail(Errc::invalid, "notice.status needs args.notice");
  const std::string id = id_it->get<std::string>();
  auto it = c.state.notices.find(id);
  if (it == c.state.notices.end() || it->second.area.empty() ||
      !domain::can_see(actor, domain::area_scope(it->second.area))) {
    return fail(Errc::not_found, "no notice " + id);
  }
  const domain::Notice& n = it->second;
  if (n.author != actor.name && !domain::manages(actor, n.area)) {
    return fail(Errc::forbidden, "only the author or a lead of " + n.area + " may see who acknowledged");
  }
  // Grouped by the recipients' home areas ("building", the default), or rolled up to
  // the areas just below the notice's ("area").
  const std::string by = q.args.value("by", "building");
  if (by != "building" && by != "area") return fail(Errc::invalid, "by must be building or area");
  const bool missing_only = q.args.value("missing", false);
  const Audience audience = notice_audience(n, c.directory);
  struct Tally {
    int recipients = 0;
    int acked = 0;
    std::vector<std::string> missing;
  };
  std::map<std::string, Tally> groups;
  const std::size_t child_depth = domain::area_lineage(n.area).size() + 1;
  for (const auto& [area, who] : audience.by_area) {
    std::string key = area;
    if (by == "area") {
      auto lineage = domain::area_lineage(area);
      key = lineage.size() >= child_depth ? lineage[child_depth - 1] : n.area;
    }
    Tally& t = groups[key];
    t.recipients += static_cast<int>(who.acked.size() + who.missing.size());
    t.acked += static_cast<int>(who.acked.size());
    t.missing.insert(t.missing.end(), who.missing.begin(), who.missing.end());
  }
  nlohmann::json areas = nlohmann::json::array();
  for (auto& [area, t] : groups) {
    if (missing_only && t.missing.empty()) continue;
    std::sort(t.missing.begin(), t.missing.end());
    areas.push_back({{"area", area}, {"recipients", t.recipients}, {"acked", t.acked}, {"missing", t.missing}});
  }
  r.body = {{"notice", n.id},
            {"area", n.area},
            {"text", n.text},
            {"ack", n.ack_required},
            {"by", by},
            {"recipients", audience.recipients},
            {"acked", audience.acked},
            {"missing", audience.missing},
            {"chased", n.chased},
            {"by_area", areas}};
  return r;
}

}  // namespace musterd
