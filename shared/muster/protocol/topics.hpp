// MQTT topic names (SPEC §5): the same JSON frames as over WebSocket, routed by topic.
//
//   <prefix>/op/<user>     client -> server   op frames
//   <prefix>/req/<user>    client -> server   hello, backfill, cursor, query, ping
//   <prefix>/ack/<user>    server -> client   acks, welcome, replayed events, caught_up, results, errors
//   <prefix>/ev/<scope>    server -> clients  live events; the scope's ':' becomes '/'
//                                             (area:gulou/antai -> <prefix>/ev/area/gulou/antai)
//
// The <user> level is the identity: the broker's ACL lets each user publish only to
// its own op and req topics.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace muster::protocol {

inline constexpr std::string_view kDefaultTopicPrefix = "muster/v1";

std::string op_topic(std::string_view prefix, std::string_view user);
std::string req_topic(std::string_view prefix, std::string_view user);
std::string ack_topic(std::string_view prefix, std::string_view user);
std::string event_topic(std::string_view prefix, std::string_view scope);

struct TopicRoute {
  enum class Kind { op, req } kind;
  std::string user;
};

// Parses "<prefix>/op/<user>" or "<prefix>/req/<user>"; nullopt for anything else
// (other kinds, a user level with '/', '+' or '#', an empty user).
std::optional<TopicRoute> parse_client_topic(std::string_view prefix, std::string_view topic);

}  // namespace muster::protocol
