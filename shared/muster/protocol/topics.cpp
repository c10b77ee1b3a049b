#include "muster/protocol/topics.hpp"

namespace muster::protocol {

namespace {
std::string join(std::string_view prefix, std::string_view kind, std::string_view rest) {
  std::string out;
  out.reserve(prefix.size() + kind.size() + rest.size() + 2);
  out.append(prefix).append("/").append(kind).append("/").append(rest);
  return out;
}
}  // namespace

std::string op_topic(std::string_view prefix, std::string_view user) { return join(prefix, "op", user); }
std::string req_topic(std::string_view prefix, std::string_view user) { return join(prefix, "req", user); }
std::string ack_topic(std::string_view prefix, std::string_view user) { return join(prefix, "ack", user); }

std::string event_topic(std::string_view prefix, std::string_view scope) {
  std::string rest(scope);
  if (auto colon = rest.find(':'); colon != std::string::npos) rest[colon] = '/';
  return join(prefix, "ev", rest);
}

std::optional<TopicRoute> parse_client_topic(std::string_view prefix, std::string_view topic) {
  if (topic.size() <= prefix.size() + 1 || topic.compare(0, prefix.size(), prefix) != 0 ||
      topic[prefix.size()] != '/') {
    return std::nullopt;
  }
  std::string_view rest = topic.substr(prefix.size() + 1);
  TopicRoute route{TopicRoute::Kind::op, {}};
  if (rest.rfind("op/", 0) == 0) {
    rest.remove_prefix(3);
  } else if (rest.rfind("req/", 0) == 0) {
    route.kind = TopicRoute::Kind::req;
    rest.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  if (rest.empty() || rest.find_first_of("/+#") != std::string_view::npos) return std::nullopt;
  route.user = std::string(rest);
  return route;
}

}  // namespace muster::protocol
