// muster's commands and options, declared once (muster/base/command_line.hpp): parsing,
// `muster CMD --help` and the bash completion all read this. Keep it in step with the
// usage text (commands.cpp) and the README.
#include "muster_client/command_tree.hpp"

namespace muster::client {

void declare_commands(CommandTree& t) {
  using Node = CommandTree::Node;
  const std::vector<std::string> kStates{"open", "offered", "accepted", "started", "done", "failed", "cancelled"};
  const std::vector<std::string> kPriorities{"low", "normal", "high", "urgent"};
  auto root = t.root();
  t.option(root, "--home", "DIR");
  t.flag(root, "--json");
  auto timeout = [&t](Node n) { t.option(n, "--timeout", "S"); };

  auto login = t.command(root, "login");
  t.option(login, "--server", "URL");
  t.option(login, "--user", "NAME");
  t.option(login, "--ca", "FILE");
  t.flag(login, "--password-stdin");
  timeout(login);
  timeout(t.command(root, "status"));
  timeout(t.command(root, "sync"));
  t.command(root, "help", "", true);
  auto completion = t.command(root, "completion", "", true);
  t.command(completion, "bash");

  auto inbox = t.command(root, "inbox");
  t.command(inbox, "ack", "ID");

  auto task = t.command(root, "task");
  auto task_new = t.command(task, "new", "KIND");
  t.option(task_new, "--title", "T");
  t.option(task_new, "--area", "A");
  t.option(task_new, "--assignee", "U");
  t.choice(task_new, "--dispatch", {"direct", "offer", "claim"});
  t.option(task_new, "--skill", "S");
  t.option(task_new, "--due", "TIME");
  t.choice(task_new, "--priority", kPriorities);
  t.option(task_new, "--detail", "KEY=VALUE");
  auto task_list = t.command(task, "list");
  t.flag(task_list, "--mine");
  t.choice(task_list, "--state", kStates);
  t.option(task_list, "--area", "A");
  t.command(task, "show", "ID");
  for (const char* verb : {"claim", "accept", "decline", "start", "done", "fail", "cancel"}) {
    t.option(t.command(task, verb, "ID"), "--note", "T");
  }

  auto notice = t.command(root, "notice");
  auto notice_post = t.command(notice, "post");
  t.option(notice_post, "--area", "A");
  t.option(notice_post, "--text", "T");
  t.flag(notice_post, "--ack");
  t.choice(notice_post, "--priority", kPriorities);
  t.command(notice, "list");
  t.command(notice, "ack", "ID");
  auto notice_status = t.command(notice, "status", "ID");
  t.choice(notice_status, "--by", {"building", "area"});
  t.flag(notice_status, "--missing");
  timeout(notice_status);

  auto msg = t.command(root, "msg");
  auto msg_send = t.command(msg, "send");
  t.option(msg_send, "--to", "USER|area:PATH");
  t.option(msg_send, "--text", "T");
  t.command(msg, "list");

  auto roster = t.command(root, "roster");
  auto roster_add = t.command(roster, "add");
  t.option(roster_add, "--post", "P");
  t.option(roster_add, "--area", "A");
  t.option(roster_add, "--start", "T");
  t.option(roster_add, "--end", "T");
  t.option(roster_add, "--seats", "N");
  auto roster_list = t.command(roster, "list");
  t.option(roster_list, "--area", "A");
  t.option(roster_list, "--from", "T");
  t.option(roster_list, "--to", "T");
  t.flag(roster_list, "--mine");
  for (const char* verb : {"signup", "withdraw", "checkin", "checkout", "swap-accept", "swap-decline"}) {
    t.command(roster, verb, "SHIFT");
  }
  t.option(t.command(roster, "swap", "SHIFT"), "--to", "USER");
  auto roster_gaps = t.command(roster, "gaps");
  t.option(roster_gaps, "--area", "A");
  t.option(roster_gaps, "--from", "T");
  t.option(roster_gaps, "--to", "T");

  auto headcount = t.command(root, "headcount");
  auto hc_open = t.command(headcount, "open");
  t.option(hc_open, "--area", "A");
  t.option(hc_open, "--title", "T");
  t.option(hc_open, "--closes", "TIME");
  auto hc_mark = t.command(headcount, "mark", "ROUND HOUSEHOLD STATUS");
  t.option(hc_mark, "--people", "N");
  t.option(hc_mark, "--file", "F");
  auto hc_status = t.command(headcount, "status", "ROUND");
  t.choice(hc_status, "--by", {"building"});
  t.flag(hc_status, "--missing");
  t.command(headcount, "close", "ROUND");
  t.command(headcount, "list");
  timeout(t.command(headcount, "household", "ID"));

  auto hotline = t.command(root, "hotline");
  auto hotline_log = t.command(hotline, "log");
  t.option(hotline_log, "--started", "T");
  t.option(hotline_log, "--duration", "MIN");
  t.option(hotline_log, "--category", "C");
  t.option(hotline_log, "--risk", "0-5");
  t.option(hotline_log, "--area", "A");
  t.option(hotline_log, "--notes-file", "F");
  t.option(hotline_log, "--notes", "T");
  t.option(hotline_log, "--followup", "BRIEF");
  t.command(hotline, "list");
  timeout(t.command(hotline, "show", "CALL"));

  timeout(t.command(root, "watch"));

  // The full-screen client (tui_command.cpp).
  t.flag(t.command(root, "tui"), "--no-bell");
}

}  // namespace muster::client
