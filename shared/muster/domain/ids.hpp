// The domain's ids (muster/base/strong_id.hpp): one type per kind of thing named, so that
// mixing them up does not compile. Bodies of ops and events stay JSON: the reducers read
// a body's strings into these types at their boundary.
#pragma once

#include "muster/base/strong_id.hpp"

namespace muster::domain {

using TaskId = Id<struct TaskIdTag>;  // the id of the op that created the task
using OpId = Id<struct OpIdTag>;      // a ULID made by the client

}  // namespace muster::domain
