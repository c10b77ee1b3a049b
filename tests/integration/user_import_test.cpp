// `musterd user import FILE`: bulk users for benchmarks and large teams, each distinct
// password hashed once, optional pre-registered device tokens, all or nothing.

#include <fstream>
#include <map>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string write_file(const mt::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

json hello_token(const std::string& user, const std::string& token, const std::string& device) {
  return {{"t", "hello"}, {"v", 1}, {"user", user}, {"token", token}, {"device", device}, {"cursors", json::object()}};
}

json user_list(mt::ServerFixture& server) {
  auto r = server.admin({"user", "list", "--json"});
  REQUIRE(r.code == 0);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("user import: users with shared passwords, roles and device tokens") {
  mt::ServerFixture server;
  mt::TempDir files("import-");
  const std::string good = write_file(files, "users.csv",
                                      "# name,roles,area,password[,token]\n"
                                      "imp1,volunteer,bench/imp,secret-one,token-for-imp1-0123456789\n"
                                      "imp2,lead;volunteer,bench/imp,secret-one\n"
                                      "\n"
                                      "imp3,volunteer,bench/imp/b1,secret-two,token-for-imp3-0123456789\r\n");
  // Areas the directory does not have are refused, naming the line, and nothing is
  // imported: a misspelt area would otherwise become a new one nobody else is in.
  auto r = server.admin({"user", "import", good});
  CHECK(r.code == 2);
  CHECK(r.err.find("users.csv:2: no area 'bench/imp'") != std::string::npos);
  CHECK(r.err.find("--create-area") != std::string::npos);
  CHECK(user_list(server).empty());
  r = server.admin({"user", "import", good, "--create-area"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("imported 3 users (2 distinct passwords, 2 device tokens for bench)") != std::string::npos);

  auto users = user_list(server);
  REQUIRE(users.size() == 3);
  CHECK(users[1]["name"] == "imp2");
  CHECK(users[1]["roles"] == json::array({"lead", "volunteer"}));
  CHECK(users[2]["area"] == "bench/imp/b1");

  // Importing again is refused as a whole; a bad line anywhere imports nothing.
  CHECK(server.admin({"user", "import", good}).code == 2);
  const std::string bad = write_file(files, "bad.csv", "imp4,volunteer,bench/imp,secret-four\nimp5,wizard,bench/imp,secret-five\n");
  r = server.admin({"user", "import", bad});
  CHECK(r.code == 1);
  CHECK(r.err.find("bad.csv:2") != std::string::npos);
  CHECK(user_list(server).size() == 3);
  const std::string short_pw = write_file(files, "short.csv", "imp6,volunteer,bench/imp,short\n");
  CHECK(server.admin({"user", "import", short_pw}).code == 1);

  server.start();
  {
    // The pre-registered token works for its device only, without a password.
    mt::RawWs ws;
    REQUIRE(ws.connect(server.port()));
    REQUIRE(ws.send_text(hello_token("imp1", "token-for-imp1-0123456789", "bench").dump()));
    auto welcome = ws.recv(5s);
    REQUIRE(welcome);
    auto j = json::parse(*welcome);
    CHECK(j["t"] == "welcome");
    CHECK(j["user"] == "imp1");
  }
  {
    mt::RawWs ws;
    REQUIRE(ws.connect(server.port()));
    REQUIRE(ws.send_text(hello_token("imp1", "token-for-imp1-0123456789", "laptop").dump()));
    CHECK(ws.wait_closed(5s));
    CHECK(ws.close_code() == 1008);
  }
  // The shared hash is a real argon2id hash of each user's own password.
  mt::ClientFixture lead("imp2");
  lead.login(server, "imp2", "secret-one");

  // Tokens go to log.db, which only the serving process writes: refused while it serves.
  const std::string more = write_file(files, "more.csv", "imp7,volunteer,bench/imp,secret-one,token-for-imp7-0123456789\n");
  r = server.admin({"user", "import", more});
  CHECK(r.code == 2);
  CHECK(r.err.find("stop it") != std::string::npos);
  CHECK(user_list(server).size() == 3);
}

TEST_CASE("user import: RFC 4180 quoting, so a display name may hold a comma") {
  mt::ServerFixture server;
  mt::TempDir files("import-");
  const std::string names = write_file(files, "names.csv",
                                       "# name,roles,area,password[,token[,display]]\n"
                                       "wang,volunteer,bench/imp,secret-one,,\"Wang, Li\"\n"
                                       "zhao,\"lead;volunteer\",bench/imp,\"pass,word\",,\"Zhao \"\"Big\"\" Wei\"\r\n"
                                       "sun,volunteer,bench/imp,secret-one\n");
  auto r = server.admin({"user", "import", names, "--create-area"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("imported 3 users (2 distinct passwords, 0 device tokens for bench)") != std::string::npos);

  std::map<std::string, json> by_name;
  for (const auto& u : user_list(server)) by_name[u["name"].get<std::string>()] = u;
  REQUIRE(by_name.size() == 3);
  CHECK(by_name["wang"]["display"] == "Wang, Li");
  CHECK(by_name["zhao"]["display"] == "Zhao \"Big\" Wei");
  CHECK(by_name["zhao"]["roles"] == json::array({"lead", "volunteer"}));
  CHECK(by_name["sun"]["display"] == "sun");

  // A quote left open is reported at the line it opens; nothing is imported.
  const std::string open = write_file(files, "open.csv",
                                      "li,volunteer,bench/imp,secret-one\n"
                                      "\n"
                                      "na,volunteer,bench/imp,secret-one,,\"Na, Li\n");
  r = server.admin({"user", "import", open});
  CHECK(r.code == 1);
  CHECK(r.err.find("open.csv:3: quoted field is not closed") != std::string::npos);
  CHECK(user_list(server).size() == 3);

  // The password with a comma in it is the password.
  server.start();
  mt::ClientFixture lead("zhao");
  lead.login(server, "zhao", "pass,word");
}
