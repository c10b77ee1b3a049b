// What the bot says to residents, in their language. Pure: no I/O. Short on purpose:
// these are read on a phone. Never a volunteer's phone number: only their user name.
#pragma once

#include <string>
#include <vector>

#include "xmpp-bridge/request_parser.hpp"

namespace xmpp_bridge {

// A resident's request as the replies describe it.
struct RequestView {
  int number = 0;
  std::string items;    // already joined, e.g. "白菜2斤、鸡蛋10个"
  std::string address;
  std::string state;    // queued open offered accepted started done failed cancelled rejected
  std::string volunteer;
};

// Items joined the way the language lists them.
std::string join_items(Lang lang, const std::vector<std::string>& items);

std::string say_registered(Lang lang, const RequestView& r);
std::string say_queued(Lang lang, const RequestView& r);
std::string say_rejected(Lang lang, const RequestView& r, const std::string& reason);
std::string say_accepted(Lang lang, const RequestView& r);
std::string say_started(Lang lang, const RequestView& r);
std::string say_done(Lang lang, const RequestView& r);
std::string say_failed(Lang lang, const RequestView& r);
std::string say_cancelled(Lang lang, const RequestView& r);
std::string say_cancelling(Lang lang, const RequestView& r);
std::string say_cannot_cancel(Lang lang, const RequestView& r);
std::string say_no_such_request(Lang lang, int number);
std::string say_status(Lang lang, const std::vector<RequestView>& open);
std::string say_too_many(Lang lang, int max_open);
std::string say_not_registered(Lang lang);
std::string say_help(Lang lang, HelpCommand::Why why);

}  // namespace xmpp_bridge
