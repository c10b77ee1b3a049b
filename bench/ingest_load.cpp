// Closed-loop ingest load generator: N WebSocket connections, each keeping a window
// of ops in flight against a running musterd, counting acks per second.
//
//   muster-ingest-load --url ws://127.0.0.1:8080 --users bench1,bench2 --password P
//                      [--window 8] [--duration 10] [--warmup 2] [--json]
//
// Each op is a message to the sender itself: one event, delivered to one session,
// so the figure is the server's durable ingest rate, not its fan-out.
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "muster/base/args.hpp"
#include "muster/base/ulid.hpp"

namespace {

using Endpoint = websocketpp::client<websocketpp::config::asio_client>;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct Conn {
  std::string user;
  websocketpp::connection_hdl hdl;
  bool ready = false;
  int in_flight = 0;
};

class Load {
 public:
  Load(std::string url, std::vector<std::string> users, std::string password, int window)
      : url_(std::move(url)), password_(std::move(password)), window_(window) {
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    endpoint_.init_asio(&io_, ec);
    for (auto& u : users) conns_.push_back(Conn{u, {}, false, 0});
  }

  int run(double warmup_s, double duration_s, bool json) {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      std::error_code ec;
      auto con = endpoint_.get_connection(url_, ec);
      if (ec) {
        std::cerr << "bad url: " << ec.message() << '\n';
        return 1;
      }
      con->set_open_handler([this, i](websocketpp::connection_hdl h) { on_open(i, h); });
      con->set_message_handler(
          [this, i](websocketpp::connection_hdl, const Endpoint::message_ptr& m) { on_message(i, m->get_payload()); });
      con->set_fail_handler([this](websocketpp::connection_hdl) { ++failures_; });
      con->set_close_handler([this](websocketpp::connection_hdl) { ++closed_; });
      endpoint_.connect(con);
    }
    // Log in everyone (argon2id on the server takes a while), then measure.
    auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while (ready_ < conns_.size() && failures_ == 0 && closed_ == 0 && SteadyClock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    if (ready_ < conns_.size()) {
      std::cerr << "only " << ready_ << " of " << conns_.size() << " connections logged in\n";
      return 1;
    }
    for (std::size_t i = 0; i < conns_.size(); ++i) fill(i);
    run_for(warmup_s);
    const auto acked_before = acked_;
    const auto start = SteadyClock::now();
    run_for(duration_s);
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    const double rate = static_cast<double>(acked_ - acked_before) / seconds;
    if (json) {
      std::cout << Json{{"ops_per_s", rate}, {"acked", acked_ - acked_before}, {"seconds", seconds},
                        {"connections", conns_.size()}, {"window", window_}, {"rejected", rejected_}}
                       .dump()
                << '\n';
    } else {
      std::cout << "ingest: " << static_cast<long long>(rate) << " ops/s acked (" << (acked_ - acked_before)
                << " ops in " << seconds << " s, " << conns_.size() << " connections, window " << window_
                << ", rejected " << rejected_ << ")\n";
    }
    return rejected_ == 0 && failures_ == 0 ? 0 : 1;
  }

 private:
  void run_for(double seconds) {
    const auto end = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                              std::chrono::duration<double>(seconds));
    while (SteadyClock::now() < end) io_.run_one_until(end);
    if (io_.stopped()) io_.restart();
  }

  void on_open(std::size_t i, websocketpp::connection_hdl h) {
    conns_[i].hdl = h;
    Json hello{{"t", "hello"}, {"v", 1}, {"user", conns_[i].user}, {"password", password_},
               {"device", "bench-" + std::to_string(i)}};
    send(i, hello.dump());
  }

  void on_message(std::size_t i, const std::string& payload) {
    auto j = Json::parse(payload, nullptr, false);
    const std::string t = j.value("t", "");
    Conn& c = conns_[i];
    if (t == "caught_up" && !c.ready) {
      c.ready = true;
      ++ready_;
    } else if (t == "ack") {
      --c.in_flight;
      if (j.value("ok", false)) {
        ++acked_;
      } else {
        ++rejected_;
      }
      if (ready_ == conns_.size()) fill(i);
    }
  }

  void fill(std::size_t i) {
    Conn& c = conns_[i];
    while (c.in_flight < window_) {
      ++c.in_flight;
      Json op{{"t", "op"},
              {"id", ids_.next(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count())},
              {"kind", "message.send"},
              {"body", {{"to", c.user}, {"text", "bench: 代买 白菜2斤 鸡蛋10个 送3栋502 — payload of about a hundred bytes"}}}};
      send(i, op.dump());
    }
  }

  void send(std::size_t i, const std::string& text) {
    std::error_code ec;
    endpoint_.send(conns_[i].hdl, text, websocketpp::frame::opcode::text, ec);
  }

  asio::io_context io_;
  Endpoint endpoint_;
  std::string url_;
  std::string password_;
  int window_;
  std::vector<Conn> conns_;
  std::size_t ready_ = 0;
  int failures_ = 0;
  int closed_ = 0;
  long long acked_ = 0;
  long long rejected_ = 0;
  muster::UlidGenerator ids_;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = muster::Args::parse(std::vector<std::string>(argv + 1, argv + argc), {"json"});
  if (!args || !args->get("url") || !args->get("users") || !args->get("password")) {
    std::cerr << "usage: muster-ingest-load --url ws://HOST:PORT --users U1,U2,... --password P "
                 "[--window 8] [--duration 10] [--warmup 2] [--json]\n";
    return 1;
  }
  try {
    Load load(*args->get("url"), split(*args->get("users")), *args->get("password"),
              std::stoi(args->get_or("window", "8")));
    return load.run(std::stod(args->get_or("warmup", "2")), std::stod(args->get_or("duration", "10")),
                    args->flag("json"));
  } catch (const std::exception& e) {
    std::cerr << "muster-ingest-load: " << e.what() << '\n';
    return 1;
  }
}
