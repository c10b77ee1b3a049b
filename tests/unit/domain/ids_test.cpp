// What the domain's id types buy (muster/domain/ids.hpp): a task id is made only on
// purpose, is never taken for another kind of id or for plain text, and still keys a
// book, hashes, prints and goes to JSON as the string it is.
#include "muster/domain/ids.hpp"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "muster/domain/event.hpp"
#include "muster/domain/task.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/sync/client_store.hpp"

using muster::domain::OpId;
using muster::domain::TaskId;

// Mixing kinds of ids, or text and ids, does not compile.
static_assert(!std::is_convertible_v<OpId, TaskId>);
static_assert(!std::is_convertible_v<TaskId, OpId>);
static_assert(!std::is_convertible_v<std::string, TaskId>);
static_assert(!std::is_convertible_v<const char*, TaskId>);
static_assert(!std::is_convertible_v<TaskId, std::string>);
static_assert(std::is_constructible_v<TaskId, std::string>);
// A task book is keyed by task ids: a plain string is not one.
static_assert(std::is_same_v<muster::domain::TaskBook::key_type, TaskId>);
// An op's id is an OpId wherever it is kept: the op, the events it caused, the ack that
// answers it and the client's record of its rejection; text becomes one only on purpose.
static_assert(!std::is_convertible_v<std::string, OpId>);
static_assert(!std::is_convertible_v<const char*, OpId>);
static_assert(!std::is_convertible_v<OpId, std::string>);
static_assert(std::is_same_v<decltype(muster::domain::Op::id), OpId>);
static_assert(std::is_same_v<decltype(muster::domain::Event::op), OpId>);
static_assert(std::is_same_v<decltype(muster::protocol::Ack::id), OpId>);
static_assert(std::is_same_v<decltype(muster::sync::Rejection::op_id), OpId>);

TEST_CASE("ids compare, order, hash, print and go to JSON as their strings") {
  const TaskId a("01JDTASK0000000000000000001");
  const TaskId b("01JDTASK0000000000000000002");
  CHECK(a == TaskId(a.str()));
  CHECK(a != b);
  CHECK(a < b);
  CHECK(a.view() == "01JDTASK0000000000000000001");
  CHECK(TaskId().empty());

  std::unordered_set<TaskId> seen{a, b, TaskId(a.str())};
  CHECK(seen.size() == 2);

  std::ostringstream out;
  out << a;
  CHECK(out.str() == a.str());

  const nlohmann::json j{{"task", a}};
  CHECK(j.dump() == R"({"task":"01JDTASK0000000000000000001"})");
  CHECK(j["task"].get<TaskId>() == a);
  CHECK_THROWS_AS(nlohmann::json(7).get<TaskId>(), nlohmann::json::type_error);

  muster::domain::TaskBook book;
  book[b].title = "second";
  book[a].title = "first";
  CHECK(book.begin()->first == a);  // in the order of their strings
}
