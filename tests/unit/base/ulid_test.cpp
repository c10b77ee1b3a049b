#include "muster/base/ulid.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::int64_t kMaxMs = (std::int64_t{1} << 48) - 1;

// Adds one to a base32 string, independently of the implementation under test.
std::string plus_one(std::string digits) {
  for (std::size_t i = digits.size(); i-- > 0;) {
    const std::size_t d = kAlphabet.find(digits[i]);
    if (d + 1 < kAlphabet.size()) {
      digits[i] = kAlphabet[d + 1];
      return digits;
    }
    digits[i] = '0';
  }
  return digits;
}

}  // namespace

TEST_CASE("a ULID is 26 upper-case Crockford base32 characters") {
  muster::UlidGenerator gen;
  const std::string id = gen.next(1795420800000);
  CHECK(id.size() == 26);
  CHECK(id.find_first_not_of(kAlphabet) == std::string::npos);
  CHECK(id[0] >= '0');
  CHECK(id[0] <= '7');
  CHECK(muster::is_ulid(id));
}

TEST_CASE("the time part encodes the milliseconds as in the ULID spec") {
  // The spec's example id 01ARZ3NDEKTSV4RRFFQ69G5FAV carries 1469922850259 ms.
  muster::UlidGenerator gen;
  CHECK(gen.next(1469922850259).substr(0, 10) == "01ARZ3NDEK");
  CHECK(muster::ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FAV") == 1469922850259);
  CHECK(gen.next(kMaxMs).substr(0, 10) == "7ZZZZZZZZZ");
  muster::UlidGenerator fresh;
  CHECK(fresh.next(0).substr(0, 10) == "0000000000");
}

TEST_CASE("time round-trips through ulid_time_ms") {
  muster::UlidGenerator gen;
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1795420800000},
                          std::int64_t{1795420800001}, kMaxMs}) {
    CAPTURE(ms);
    CHECK(muster::ulid_time_ms(gen.next(ms)) == ms);
  }
}

TEST_CASE("next rejects times that do not fit in 48 bits") {
  muster::UlidGenerator gen;
  CHECK_THROWS_AS(gen.next(-1), std::out_of_range);
  CHECK_THROWS_AS(gen.next(kMaxMs + 1), std::out_of_range);
}

TEST_CASE("is_ulid accepts well-formed ids and rejects everything else") {
  CHECK(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  CHECK(muster::is_ulid("00000000000000000000000000"));
  CHECK(muster::is_ulid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));

  CHECK_FALSE(muster::is_ulid(""));
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25 characters
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));  // 27 characters
  CHECK_FALSE(muster::is_ulid("01arz3ndektsv4rrffq69g5fav"));   // lower case
  CHECK_FALSE(muster::is_ulid("80000000000000000000000000"));   // more than 128 bits
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));   // I, L, O, U are not digits
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAL"));
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAO"));
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA-"));
  CHECK_FALSE(muster::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5F\xC3\xA9"));  // "é", 26 bytes
  CHECK_FALSE(muster::is_ulid(std::string_view("01ARZ3NDEKTSV4RRFFQ69G5FA\0", 26)));

  CHECK(muster::ulid_time_ms("not a ulid") == -1);
}

TEST_CASE("ids within one millisecond are strictly increasing by one") {
  muster::UlidGenerator gen;
  const std::int64_t ms = 1795420800000;
  std::string previous = gen.next(ms);
  for (int i = 0; i < 10000; ++i) {
    const std::string id = gen.next(ms);
    REQUIRE(id > previous);
    REQUIRE(muster::ulid_time_ms(id) == ms);
    REQUIRE(id == plus_one(previous));
    previous = id;
  }
}

TEST_CASE("ids are ordered across milliseconds and a clock going back keeps order") {
  muster::UlidGenerator gen;
  const std::string a = gen.next(1000);
  const std::string b = gen.next(1001);
  CHECK(b > a);
  CHECK(muster::ulid_time_ms(b) == 1001);

  // The clock steps back: the generator stays on 1001 and keeps counting.
  const std::string c = gen.next(500);
  CHECK(c > b);
  CHECK(muster::ulid_time_ms(c) == 1001);
  CHECK(c == plus_one(b));

  const std::string d = gen.next(1002);
  CHECK(d > c);
  CHECK(muster::ulid_time_ms(d) == 1002);

  // Time dominates randomness, also between generators.
  muster::UlidGenerator other;
  CHECK(other.next(999) < a);
  CHECK(other.next(5000) > d);
}

TEST_CASE("two generators make different ids in the same millisecond") {
  muster::UlidGenerator first;
  muster::UlidGenerator second;
  const std::string a = first.next(1795420800000);
  const std::string b = second.next(1795420800000);
  CHECK(a.substr(0, 10) == b.substr(0, 10));
  CHECK(a.substr(10) != b.substr(10));
}
