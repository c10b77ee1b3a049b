// Strict reading of op bodies: the one field reader (muster/base/json_fields.hpp) in
// the words a reducer answers with: "missing field 'title'", "field 'title' must be a
// string", "field 'title' is longer than 400 bytes", "body must be an object". A null
// field counts as absent. Read all fields, then check ok() once.
#pragma once

#include <nlohmann/json.hpp>

#include "muster/base/json_fields.hpp"

namespace muster::domain {

class Fields : public JsonFields {
 public:
  explicit Fields(const nlohmann::json& body) : JsonFields(body, FieldWording::body()) {}
};

}  // namespace muster::domain
