#include "musterd/core/queries/queries.hpp"

namespace musterd {

namespace domain = muster::domain;
namespace protocol = muster::protocol;
using muster::Errc;

protocol::QueryResult household_contact(const QueryContext& c, const protocol::Query& q) {
  const domain::Actor& actor = c.actor;
  protocol::QueryResult r;
  r.id = q.id;
  auto fail = [&q](Errc code, std::string message) { return query_error(q, code, std::move(message)); };
  auto id_it = q.args.find("household");
  if (id_it == q.args.end() || !id_it->is_string()) return fail(Errc::invalid, "household.contact needs args.household");
  const std::string id = id_it->get<std::string>();
  const HouseholdRecord* h = c.directory.household(id);
  if (!h) return fail(Errc::not_found, "no household " + id);
  if (!domain::manages(actor, h->area)) {
    return fail(Errc::forbidden, "only leads, coordinators and admins of " + h->area + " see a household's phone");
  }
  r.body = {{"household", h->id}, {"area", h->area},   {"address", h->address},
            {"members", h->members}, {"phone", h->phone}, {"updated", h->updated}};
  return r;
}

}  // namespace musterd
