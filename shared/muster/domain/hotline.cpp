// Placeholder until the hotline reducer lands: knows no ops, folds nothing.
#include "muster/domain/hotline.hpp"

namespace muster::domain {

Json to_json(const Call&) { return Json::object(); }
std::optional<Call> call_from_json(const Json&) { return std::nullopt; }
bool is_hotline_op(std::string_view) { return false; }
Result<std::vector<Draft>> apply_hotline_op(const CallBook&, const Op& op, const Context&) {
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}
std::string fold_hotline_event(CallBook&, const Event&) { return ""; }

}  // namespace muster::domain
