#include "muster/domain/state.hpp"

#include <string>

#include "muster/domain/limits.hpp"

namespace muster::domain {

bool is_known_op(std::string_view kind) { return kind_of_op(kind) != nullptr; }

Result<std::vector<Draft>> apply(const State& state, const Op& op, const Context& ctx) {
  // First, before the kind is looked up or repeated in an error.
  if (op.kind.size() > kMaxOpKindBytes) {
    return make_error(Errc::invalid, "op kind is longer than " + std::to_string(kMaxOpKindBytes) + " bytes");
  }
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (const auto* k = kind_of_op(op.kind)) return k->apply(state, op, ctx);
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}

ObjectRef fold(State& state, const Event& event) {
  if (const auto* k = kind_of_event(event.kind)) return k->fold(state, event);
  return {};
}

Json conflict_state(const State& state, const Op& op) {
  for (const auto& k : kinds()) {
    if (k.body_key.empty()) continue;
    auto it = op.body.find(std::string(k.body_key));
    if (it == op.body.end() || !it->is_string()) continue;
    if (Json j = k.show(state, it->get_ref<const std::string&>()); !j.is_null()) return j;
  }
  return nullptr;
}

}  // namespace muster::domain
