// muster inbox [--json] | muster inbox ack ID: what needs this user now, from the local
// replica (works offline; `muster sync` brings what the server decided since). The items
// and when they leave are muster/domain/inbox.hpp's; this file only prints them and
// records the dismissals of `inbox ack`.
#include <iostream>

#include "muster/base/utf8.hpp"
#include "muster/domain/inbox.hpp"
#include "muster_client/cli.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;

namespace {

// An escalation's stage, as a person reads it ("unaccepted:2" stays in --json).
std::string stage_words(const std::string& stage) {
  if (stage == "no_candidate") return "nobody left to offer it to";
  if (stage == "overdue") return "overdue";
  if (stage.rfind("unaccepted:", 0) == 0) return "not accepted, escalation step " + stage.substr(11);
  return stage;
}

}  // namespace

std::vector<domain::InboxItem> Cli::inbox_items(const sync::Identity& id) {
  auto view = store().view();
  // Tables show people as "王芳 (wang)"; --json keeps user names.
  domain::PersonName name;
  if (!json_) name = [this](const std::string& user) { return person(user); };
  return domain::inbox(view, store().alerts(), id.actor(), SystemClock().now_ms(), store().inbox_marks(), name);
}

int Cli::inbox() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  const std::string verb = a_.word(1);
  if (verb == "ack") return inbox_ack(*id);
  if (!verb.empty()) return usage("unknown inbox command '" + verb + "'");
  const auto items = inbox_items(*id);
  if (json_) {
    Json out = Json::array();
    for (const auto& item : items) out.push_back(domain::to_json(item));
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (items.empty()) {
    std::cout << "nothing in your inbox\n";
    return kOk;
  }
  auto local = [&](const std::string& text) {
    auto t = parse_utc(text);
    return t ? short_time(*t) : text;
  };
  constexpr std::size_t kKindWidth = 12;
  for (const auto& item : items) {
    std::string about;
    auto add = [&about](const std::string& part) {
      if (!part.empty()) about += (about.empty() ? "" : ", ") + part;
    };
    add(item.area);
    add(item.kind == "escalation" ? stage_words(item.detail) : item.detail);
    if (!item.expires.empty()) add("expires " + local(item.expires));
    if (!item.due.empty()) {
      const bool shift = item.kind == "reminder" || item.kind == "gap" || item.kind == "gap_offer";
      add((shift ? "starts " : "due ") + local(item.due));
    }
    std::cout << pad_to_width(display_safe(item.kind), kKindWidth) << truncate_to_width(display_safe(item.title), 60)
              << (about.empty() ? "" : "  (" + display_safe(about) + ")") << '\n'
              << std::string(kKindWidth, ' ') << display_safe(item.action) << '\n';
  }
  std::cout << items.size() << (items.size() == 1 ? " item" : " items") << '\n';
  return kOk;
}

int Cli::inbox_ack(const sync::Identity& id) {
  const std::string given = a_.word(2);
  if (given.empty()) return usage("inbox ack needs the ID of an escalation, reminder, gap or gap offer");
  std::vector<std::string> alerts;
  std::vector<const domain::InboxItem*> matched;
  const auto items = inbox_items(id);
  auto matches = [&given](const std::string& item_id) {
    return item_id == given || (given.size() >= 4 && item_id.size() > given.size() &&
                                item_id.compare(item_id.size() - given.size(), given.size(), given) == 0);
  };
  for (const auto& item : items) {
    // A notice is settled by acknowledging it to its author: muster notice ack.
    if (item.alerts.empty() || item.kind == "notice" || !matches(item.id)) continue;
    if (!matched.empty() && matched.front()->id != item.id) {
      return fail(kUsage, "'" + given + "' matches more than one item in your inbox");
    }
    matched.push_back(&item);
    alerts.insert(alerts.end(), item.alerts.begin(), item.alerts.end());
  }
  if (matched.empty()) return fail(kRejected, "nothing to acknowledge for " + given + " in your inbox");
  store().mark("ack", alerts);
  for (const auto* item : matched) {
    if (json_) {
      std::cout << Json{{"kind", item->kind}, {"id", item->id}, {"acked", true}}.dump() << '\n';
    } else {
      std::cout << "acknowledged " << display_safe(item->kind) << ' ' << display_safe(item->id) << '\n';
    }
  }
  return kOk;
}

}  // namespace muster::client
