#include "musterd/core/queries/queries.hpp"

namespace musterd {

const std::map<std::string, QueryHandler, std::less<>>& query_handlers() {
  static const std::map<std::string, QueryHandler, std::less<>> table{
      {"household.contact", &household_contact},
      {"hotline.show", &hotline_show},
      {"notice.status", &notice_status},
  };
  return table;
}

muster::protocol::QueryResult answer_query(const QueryContext& context, const muster::protocol::Query& q) {
  const auto& table = query_handlers();
  auto it = table.find(q.name);
  if (it == table.end()) return query_error(q, muster::Errc::invalid, "unknown query '" + q.name + "'");
  return it->second(context, q);
}

muster::protocol::QueryResult query_error(const muster::protocol::Query& q, muster::Errc code, std::string message) {
  muster::protocol::QueryResult r;
  r.id = q.id;
  r.ok = false;
  r.error = muster::make_error(code, std::move(message));
  return r;
}

}  // namespace musterd
