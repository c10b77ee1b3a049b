#include "xmpp-bridge/replies.hpp"

namespace xmpp_bridge {

namespace {

std::string num(const RequestView& r) { return "#" + std::to_string(r.number); }

std::string state_text(Lang lang, const RequestView& r) {
  const bool zh = lang == Lang::zh;
  const std::string& s = r.state;
  if (s == "queued") return zh ? "排队中，等系统恢复" : "queued until the system is back";
  if (s == "open" || s == "offered") return zh ? "等待志愿者接单" : "waiting for a volunteer";
  if (s == "accepted") return zh ? "已接单（" + r.volunteer + "）" : "accepted by " + r.volunteer;
  if (s == "started") return zh ? "办理中（" + r.volunteer + "）" : "on the way (" + r.volunteer + ")";
  if (s == "done") return zh ? "已完成" : "done";
  if (s == "failed") return zh ? "未能完成" : "could not be done";
  if (s == "cancelled") return zh ? "已取消" : "cancelled";
  if (s == "rejected") return zh ? "未能登记" : "not registered";
  return s;
}

}  // namespace

std::string join_items(Lang lang, const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += lang == Lang::zh ? "、" : ", ";
    out += item;
  }
  return out;
}

std::string say_registered(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return "已登记 " + num(r) + "：" + r.items + "，送 " + r.address + "。有志愿者接单时会通知您。";
  return "Request " + num(r) + " registered: " + r.items + ", to " + r.address +
         ". You will be told when a volunteer takes it.";
}

std::string say_queued(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) {
    return "已收到 " + num(r) + "：" + r.items + "，送 " + r.address + "。系统暂时连不上，恢复后会自动登记并通知您。";
  }
  return "Request " + num(r) + " received: " + r.items + ", to " + r.address +
         ". The system is offline for now; it will be registered as soon as it is back, and you will be told.";
}

std::string say_rejected(Lang lang, const RequestView& r, const std::string& reason) {
  if (lang == Lang::zh) return num(r) + " 未能登记（" + reason + "），请联系社区。";
  return "Request " + num(r) + " could not be registered (" + reason + "); please contact the committee.";
}

std::string say_accepted(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 已有志愿者接单：" + r.volunteer + "。";
  return "Request " + num(r) + " was accepted by volunteer " + r.volunteer + ".";
}

std::string say_started(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 志愿者 " + r.volunteer + " 已开始办理。";
  return "Request " + num(r) + ": " + r.volunteer + " is on the way.";
}

std::string say_done(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 已完成，送到 " + r.address + "。";
  return "Request " + num(r) + " is done: delivered to " + r.address + ".";
}

std::string say_failed(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 未能完成，社区会联系您。";
  return "Request " + num(r) + " could not be completed; the committee will contact you.";
}

std::string say_cancelled(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 已取消。";
  return "Request " + num(r) + " was cancelled.";
}

std::string say_cancelling(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return "正在取消 " + num(r) + "。";
  return "Cancelling request " + num(r) + ".";
}

std::string say_cannot_cancel(Lang lang, const RequestView& r) {
  if (lang == Lang::zh) return num(r) + " 无法取消：" + state_text(lang, r) + "。";
  return "Request " + num(r) + " cannot be cancelled: it is " + state_text(lang, r) + ".";
}

std::string say_no_such_request(Lang lang, int number) {
  if (lang == Lang::zh) return "没有 #" + std::to_string(number) + " 这个请求。发送“状态”查看您的请求。";
  return "There is no request #" + std::to_string(number) + ". Send \"status\" to see yours.";
}

std::string say_status(Lang lang, const std::vector<RequestView>& open) {
  if (open.empty()) return lang == Lang::zh ? "您目前没有未完成的请求。" : "You have no open requests.";
  std::string out = lang == Lang::zh ? "您的请求：" : "Your requests:";
  for (const auto& r : open) out += "\n" + num(r) + " " + r.items + " — " + state_text(lang, r);
  return out;
}

std::string say_too_many(Lang lang, int max_open) {
  if (lang == Lang::zh) {
    return "您已有 " + std::to_string(max_open) + " 个未完成的请求，请等其中一个完成或取消后再提交。";
  }
  return "You already have " + std::to_string(max_open) +
         " open requests; please wait until one is done or cancel one first.";
}

std::string say_not_registered(Lang lang) {
  if (lang == Lang::zh) return "抱歉，您的账号还没有登记，请联系社区居委会。";
  return "Sorry, your account is not registered with this service; please contact the neighbourhood committee.";
}

std::string say_help(Lang lang, HelpCommand::Why why) {
  if (lang == Lang::zh) {
    std::string lead = why == HelpCommand::Why::too_long     ? "消息太长了，请分几条发。"
                       : why == HelpCommand::Why::no_address ? "请写上送到哪里。"
                       : why == HelpCommand::Why::no_items ? "请写上要买什么。"
                                                           : "您好，我是社区代办助手。";
    return lead +
           "可以这样发：\n代买 白菜2斤 鸡蛋10个 送3栋502\n买药 布洛芬 一盒 送5号楼2单元301\n状态 — 查看您的请求\n取消 1 — 取消 #1";
  }
  std::string lead = why == HelpCommand::Why::too_long     ? "That message is too long; please send it in parts. "
                     : why == HelpCommand::Why::no_address ? "Please say where to deliver. "
                     : why == HelpCommand::Why::no_items ? "Please say what to buy. "
                                                         : "Hello, I am the neighbourhood errand bot. ";
  return lead +
         "You can write:\nbuy 2kg rice, deliver to b3-502\nstatus — your open requests\ncancel 1 — cancel request #1";
}

}  // namespace xmpp_bridge
