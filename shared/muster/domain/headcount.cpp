// Placeholder until the head-count reducer lands: knows no ops, folds nothing.
#include "muster/domain/headcount.hpp"

namespace muster::domain {

bool valid_household_id(std::string_view) { return false; }
Json to_json(const Household&) { return Json::object(); }
std::optional<Household> household_from_json(const Json&) { return std::nullopt; }
Json to_json(const Mark&) { return Json::object(); }
std::optional<Mark> mark_from_json(const Json&) { return std::nullopt; }
std::string mark_key(std::string_view round, std::string_view household) {
  return std::string(round) + "/" + std::string(household);
}
Json to_json(const Round&) { return Json::object(); }
std::optional<Round> round_from_json(const Json&) { return std::nullopt; }
bool is_headcount_op(std::string_view) { return false; }
Result<std::vector<Draft>> apply_headcount_op(const HeadcountBooks&, const Op& op, const Context&) {
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}
std::pair<std::string, std::string> fold_headcount_event(HeadcountBooks&, const Event&) { return {}; }
void rebuild_tallies(HeadcountBooks&) {}
Json round_status(const HeadcountBooks&, const Round&, bool) { return Json::object(); }

}  // namespace muster::domain
