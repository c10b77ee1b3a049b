// muster-xmpp-chat: a resident's side of a conversation with the chat bot, for demos
// and the README's transcript (scripts/xmpp-demo). Logs in to an XMPP server on
// 127.0.0.1 without TLS, reads lines from stdin and prints the conversation:
//
//   TEXT        sends TEXT to the bot, then prints what comes back (waits up to 10 s for
//               the first reply, then as long as replies keep coming within 1.5 s)
//   #wait N     prints what arrives within N seconds (messages that waited offline, too)
//
// usage: muster-xmpp-chat --port P --jid JID --password-file F --to BOT
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "../integration/xmpp_resident.hpp"

namespace {

using namespace std::chrono_literals;

void print(const std::string& who, const std::string& text) {
  std::string indent(who.size() + 2, ' ');
  std::string out = who + "> ";
  for (char c : text) {
    out += c;
    if (c == '\n') out += indent;
  }
  std::cout << out << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  std::string port, jid, password_file, to;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--port") port = argv[i + 1];
    if (key == "--jid") jid = argv[i + 1];
    if (key == "--password-file") password_file = argv[i + 1];
    if (key == "--to") to = argv[i + 1];
  }
  std::string password;
  std::ifstream in(password_file);
  if (port.empty() || jid.empty() || to.empty() || !std::getline(in, password)) {
    std::cerr << "usage: muster-xmpp-chat --port P --jid JID --password-file F --to BOT\n";
    return 1;
  }
  try {
    muster::testing::XmppResident me(std::stoi(port), jid, password);
    const std::string name = jid.substr(0, jid.find('@'));
    const std::string bot = to.substr(0, to.find('@'));
    std::size_t shown = 0;
    auto show_new = [&] {
      const auto heard = me.heard();
      for (; shown < heard.size(); ++shown) print(bot, heard[shown]);
    };
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      if (line.rfind("#wait ", 0) == 0) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoi(line.substr(6)));
        while (std::chrono::steady_clock::now() < until) {
          show_new();
          std::this_thread::sleep_for(50ms);
        }
        show_new();
        continue;
      }
      print(name, line);
      const std::size_t before = me.heard().size();
      me.say(to, line);
      if (me.wait_count(before + 1, 10s)) {
        while (me.wait_count(me.heard().size() + 1, 1500ms)) {
        }
      }
      show_new();
    }
    std::this_thread::sleep_for(200ms);
    show_new();
  } catch (const std::exception& e) {
    std::cerr << "muster-xmpp-chat: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
