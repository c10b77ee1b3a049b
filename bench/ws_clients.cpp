// The WebSocket load generators of muster-bench, all on one WebSocket++ client and one
// Asio io_context (one thread): ingest (grown out of the old muster-ingest-load),
// seed, delivery, fan-out and the idle connection holder of the memory figure.
//
// Every connection says hello with a device token pre-registered by
// `musterd user import` (device "bench"), so no argon2id runs during a benchmark.
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "bench.hpp"
#include "muster/base/ulid.hpp"
#include "muster/protocol/frame.hpp"

namespace bench {

namespace {

using Client = websocketpp::client<websocketpp::config::asio_client>;
using websocketpp::connection_hdl;

enum class St { idle, connecting, ready, gone };

struct Conn {
  BenchUser user;
  connection_hdl hdl;
  St st = St::idle;
  int in_flight = 0;
};

std::string hello_frame(const BenchUser& u) {
  muster::protocol::Hello h;
  h.user = u.name;
  h.token = u.token;
  h.device = "bench";
  return muster::protocol::encode(muster::protocol::ClientFrame{h});
}

// Many WebSocket connections on one thread. In muster mode a connection is ready once
// the server said caught_up after its hello; in echo mode once its hello came back.
class Pool {
 public:
  Pool(std::string url, bool echo) : url_(std::move(url)), echo_(echo) {
    ep_.clear_access_channels(websocketpp::log::alevel::all);
    ep_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    ep_.init_asio(&io_, ec);
    if (ec) throw std::runtime_error("asio: " + ec.message());
    // Small frames, answered at once: do not let Nagle hold them back (Paho does the same).
    // Set once connected: the socket-init hook runs before the socket is open.
    ep_.set_tcp_post_init_handler([this](connection_hdl h) {
      std::error_code failed;
      auto con = ep_.get_con_from_hdl(h, failed);
      if (!failed) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), failed);
    });
  }

  std::size_t add(BenchUser u) {
    conns_.push_back(Conn{std::move(u), {}, St::idle, 0});
    return conns_.size() - 1;
  }
  std::size_t size() const { return conns_.size(); }
  Conn& conn(std::size_t i) { return conns_[i]; }

  // Connects everyone, at most `parallel` handshakes and hellos at a time. Throws
  // unless every connection is ready before the timeout.
  void connect_all(double timeout_s, std::size_t parallel) {
    const auto deadline = after(timeout_s);
    const auto start = SteadyClock::now();
    pump(parallel);
    while (ready_ < conns_.size() && gone_ == 0 && SteadyClock::now() < deadline) {
      run_one(deadline);
      pump(parallel);
    }
    if (ready_ < conns_.size()) {
      throw std::runtime_error("only " + std::to_string(ready_) + " of " + std::to_string(conns_.size()) +
                               " connections caught up within " + std::to_string(static_cast<int>(timeout_s)) +
                               " s" + (first_error_.empty() ? std::string() : ": " + first_error_));
    }
    std::cerr << "connected " << conns_.size() << " in " << seconds_since(start) << " s\n";
  }

  void send(std::size_t i, const std::string& text) {
    std::error_code ec;
    ep_.send(conns_[i].hdl, text, websocketpp::frame::opcode::text, ec);
    if (ec && first_error_.empty()) first_error_ = "send: " + ec.message();
  }

  // Runs the loop until `done` says so or the time is up. True if done.
  bool run_until(SteadyClock::time_point deadline, const std::function<bool()>& done = {}) {
    while (SteadyClock::now() < deadline) {
      if (done && done()) return true;
      run_one(deadline);
      if (gone_ > 0) throw std::runtime_error("a connection was lost: " + first_error_);
    }
    return done && done();
  }
  void run_for(double seconds) { run_until(after(seconds)); }

  std::function<void(std::size_t, const std::string&)> on_message;

 private:
  void run_one(SteadyClock::time_point deadline) {
    if (io_.run_one_until(deadline) == 0 && io_.stopped()) {
      io_.restart();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void pump(std::size_t parallel) {
    while (started_ < conns_.size() && started_ - ready_ - gone_ < parallel) start(started_++);
  }

  void start(std::size_t i) {
    std::error_code ec;
    auto con = ep_.get_connection(url_, ec);
    if (ec) throw std::runtime_error("bad url " + url_ + ": " + ec.message());
    conns_[i].st = St::connecting;
    con->set_open_handler([this, i](connection_hdl h) {
      conns_[i].hdl = h;
      send(i, hello_frame(conns_[i].user));
    });
    con->set_message_handler(
        [this, i](connection_hdl, const Client::message_ptr& m) { handle(i, m->get_payload()); });
    con->set_fail_handler([this, i](connection_hdl h) {
      auto c = ep_.get_con_from_hdl(h);
      lost(i, "connect failed: " + c->get_ec().message());
    });
    con->set_close_handler([this, i](connection_hdl h) {
      auto c = ep_.get_con_from_hdl(h);
      lost(i, "closed by the server: " + std::to_string(c->get_remote_close_code()) + " " +
                  c->get_remote_close_reason());
    });
    ep_.connect(con);
  }

  void lost(std::size_t i, const std::string& why) {
    if (conns_[i].st == St::gone) return;
    conns_[i].st = St::gone;
    ++gone_;
    if (first_error_.empty()) first_error_ = conns_[i].user.name + ": " + why;
  }

  void handle(std::size_t i, const std::string& payload) {
    Conn& c = conns_[i];
    if (c.st == St::ready) {
      if (on_message) on_message(i, payload);
      return;
    }
    const std::string t = echo_ ? std::string("caught_up") : frame_type(payload);
    if (t == "caught_up") {
      c.st = St::ready;
      ++ready_;
    } else if (t == "error" && first_error_.empty()) {
      first_error_ = c.user.name + ": " + payload;
    }
  }

  std::string url_;
  bool echo_;
  asio::io_context io_;
  Client ep_;
  std::vector<Conn> conns_;
  std::size_t started_ = 0;
  std::size_t ready_ = 0;
  std::size_t gone_ = 0;
  std::string first_error_;
};

std::string op_frame(muster::UlidGenerator& ids, const std::string& kind, const Json& body, std::string* id_out = nullptr) {
  std::string id = ids.next(unix_ms());
  if (id_out) *id_out = id;
  return Json{{"t", "op"}, {"id", std::move(id)}, {"kind", kind}, {"body", body}}.dump();
}

bool ack_ok(const std::string& payload) { return payload.find(R"("ok":true)") != std::string::npos; }

// ws://HOST:PORT -> host, port
std::pair<std::string, std::string> host_port(const std::string& url) {
  std::string rest = url.substr(url.find("//") == std::string::npos ? 0 : url.find("//") + 2);
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, "80"};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

// GET /metrics from the server, parsed into name -> value (empty on failure, 3 s at most).
std::map<std::string, double> fetch_metrics(const std::string& url) {
  std::map<std::string, double> out;
  auto [host, port] = host_port(url);
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  std::string request = "GET /metrics HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  std::string response;
  std::array<char, 4096> buf{};
  std::function<void(const std::error_code&, std::size_t)> on_read = [&](const std::error_code& ec, std::size_t n) {
    response.append(buf.data(), n);
    if (!ec) sock.async_read_some(asio::buffer(buf), on_read);
  };
  std::error_code ec;
  asio::ip::tcp::endpoint where(asio::ip::make_address(host, ec), static_cast<unsigned short>(std::stoi(port)));
  if (ec) return out;
  sock.async_connect(where, [&](const std::error_code& e) {
    if (e) return;
    asio::async_write(sock, asio::buffer(request), [&](const std::error_code& we, std::size_t) {
      if (!we) sock.async_read_some(asio::buffer(buf), on_read);
    });
  });
  io.run_for(std::chrono::seconds(3));
  std::istringstream in(response);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    try {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
    }
  }
  return out;
}

void save_text(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

// ---------------------------------------------------------------- ingest

// Closed loop: N connections each keep `window` ops in flight (a message to oneself:
// one event, one session), counting acks per second.
int cmd_ingest(const muster::Args& a) {
  const std::string url = a.get_or("url", "");
  const auto connections = static_cast<std::size_t>(std::stoi(a.get_or("connections", "50")));
  const int window = std::stoi(a.get_or("window", "8"));
  const double warmup = std::stod(a.get_or("warmup", "2"));
  const double duration = std::stod(a.get_or("duration", "5"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  auto users = select_users(read_users(a.get_or("users-file", "")), a.get_or("prefix", "ing"), connections);
  if (users.size() < connections) throw std::runtime_error("the users file has too few ingest users");
  Pool pool(url, false);
  for (auto& u : users) pool.add(u);
  pool.connect_all(60, 100);

  muster::UlidGenerator ids;
  long long acked = 0;
  long long rejected = 0;
  std::string first_rejection;
  auto fill = [&](std::size_t i) {
    Conn& c = pool.conn(i);
    while (c.in_flight < window) {
      ++c.in_flight;
      pool.send(i, op_frame(ids, "message.send", Json{{"to", c.user.name}, {"text", kMessageText}}));
    }
  };
  pool.on_message = [&](std::size_t i, const std::string& payload) {
    if (frame_type(payload) != "ack") return;
    --pool.conn(i).in_flight;
    if (ack_ok(payload)) {
      ++acked;
    } else if (++rejected == 1) {
      first_rejection = payload;
    }
    fill(i);
  };
  for (std::size_t i = 0; i < pool.size(); ++i) fill(i);
  pool.run_for(warmup);
  auto m0 = fetch_metrics(url);
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const long long before = acked;
    const auto start = SteadyClock::now();
    pool.run_for(duration);
    samples.push_back(static_cast<double>(acked - before) / seconds_since(start));
    std::cerr << "ingest rep " << r + 1 << ": " << static_cast<long long>(samples.back()) << " ops/s\n";
  }
  auto m1 = fetch_metrics(url);
  if (rejected > 0) throw std::runtime_error(std::to_string(rejected) + " ops rejected, first: " + first_rejection);
  Json out = summarize(samples);
  out["unit"] = "ops/s";
  out["connections"] = connections;
  out["window"] = window;
  const double commits = m1["muster_commits_total"] - m0["muster_commits_total"];
  if (commits > 0) {
    out["batch"] = (m1["muster_commit_ops_total"] - m0["muster_commit_ops_total"]) / commits;
    out["commit_ms"] = 1000 * (m1["muster_commit_seconds_total"] - m0["muster_commit_seconds_total"]) / commits;
    std::ostringstream note;
    note << connections << " connections x window " << window << "; " << out["batch"].get<double>()
         << " ops per group commit, " << out["commit_ms"].get<double>() << " ms per commit";
    out["note"] = note.str();
  }
  emit(out);
  return 0;
}

// ---------------------------------------------------------------- seed

// Sends COUNT message ops from one user to TARGET (a user or area:PATH), WINDOW in
// flight, and waits for every ack: fills a log for the catch-up figure.
int cmd_seed(const muster::Args& a) {
  const std::string url = a.get_or("url", "");
  const auto all = read_users(a.get_or("users-file", ""));
  const BenchUser& user = find_user(all, a.get_or("user", ""));
  const std::string to = a.get_or("to", "");
  const long long count = std::stoll(a.get_or("count", "1000"));
  const int window = std::stoi(a.get_or("window", "500"));
  Pool pool(url, false);
  pool.add(user);
  pool.connect_all(30, 1);
  muster::UlidGenerator ids;
  long long sent = 0;
  long long answered = 0;
  long long rejected = 0;
  std::string first_rejection;
  auto fill = [&]() {
    Conn& c = pool.conn(0);
    while (c.in_flight < window && sent < count) {
      ++c.in_flight;
      ++sent;
      pool.send(0, op_frame(ids, "message.send", Json{{"to", to}, {"text", kMessageText}}));
    }
  };
  pool.on_message = [&](std::size_t, const std::string& payload) {
    if (frame_type(payload) != "ack") return;
    --pool.conn(0).in_flight;
    ++answered;
    if (!ack_ok(payload) && ++rejected == 1) first_rejection = payload;
    fill();
  };
  const auto start = SteadyClock::now();
  fill();
  pool.run_until(after(std::stod(a.get_or("timeout", "600"))), [&] { return answered >= count; });
  const double t = seconds_since(start);
  if (rejected > 0) throw std::runtime_error(std::to_string(rejected) + " ops rejected, first: " + first_rejection);
  if (answered < count) throw std::runtime_error("only " + std::to_string(answered) + " of " + std::to_string(count) + " ops acked in time");
  emit(Json{{"ops", count}, {"seconds", t}, {"ops_per_s", static_cast<double>(count) / t}});
  return 0;
}

// ---------------------------------------------------------------- delivery

// One sender keeps WINDOW message.send ops to the recipient in flight; the recipient,
// connected and live, counts the message events it receives per second.
int cmd_delivery(const muster::Args& a) {
  const std::string url = a.get_or("url", "");
  const auto all = read_users(a.get_or("users-file", ""));
  const int window = std::stoi(a.get_or("window", "64"));
  const double warmup = std::stod(a.get_or("warmup", "2"));
  const double duration = std::stod(a.get_or("duration", "5"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  Pool pool(url, false);
  const std::size_t sender = pool.add(find_user(all, a.get_or("sender", "")));
  const std::size_t recipient = pool.add(find_user(all, a.get_or("recipient", "")));
  pool.connect_all(30, 2);
  const std::string to = pool.conn(recipient).user.name;
  muster::UlidGenerator ids;
  long long delivered = 0;
  long long rejected = 0;
  std::string first_rejection;
  std::string payload_sample;
  auto fill = [&]() {
    Conn& c = pool.conn(sender);
    while (c.in_flight < window) {
      ++c.in_flight;
      pool.send(sender, op_frame(ids, "message.send", Json{{"to", to}, {"text", kMessageText}}));
    }
  };
  pool.on_message = [&](std::size_t i, const std::string& payload) {
    if (i == recipient) {
      if (payload.find(R"("kind":"message.sent")") != std::string::npos) {
        ++delivered;
        if (payload_sample.empty()) payload_sample = payload;
      }
      return;
    }
    if (frame_type(payload) != "ack") return;
    --pool.conn(sender).in_flight;
    if (!ack_ok(payload) && ++rejected == 1) first_rejection = payload;
    fill();
  };
  fill();
  pool.run_for(warmup);
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const long long before = delivered;
    const auto start = SteadyClock::now();
    pool.run_for(duration);
    samples.push_back(static_cast<double>(delivered - before) / seconds_since(start));
    std::cerr << "delivery rep " << r + 1 << ": " << static_cast<long long>(samples.back()) << " events/s\n";
  }
  if (rejected > 0) throw std::runtime_error(std::to_string(rejected) + " ops rejected, first: " + first_rejection);
  save_text(a.get_or("save-payload", ""), payload_sample);
  Json out = summarize(samples);
  out["unit"] = "events/s";
  out["window"] = window;
  out["payload_bytes"] = payload_sample.size();
  out["note"] = "window " + std::to_string(window) + " ops in flight, each acked after its durable commit; " +
                std::to_string(payload_sample.size()) + "-byte event frames";
  emit(out);
  return 0;
}

// ---------------------------------------------------------------- fan-out

// N volunteers of one area connected and live; a lead posts one notice to the area;
// per-client latency from the post being sent to each client having the event.
int cmd_fanout(const muster::Args& a) {
  const std::string url = a.get_or("url", "");
  const auto all = read_users(a.get_or("users-file", ""));
  const auto clients = static_cast<std::size_t>(std::stoi(a.get_or("clients", "100")));
  const int warmup = std::stoi(a.get_or("warmup", "1"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  const double rep_timeout = std::stod(a.get_or("rep-timeout", "15"));
  const std::string area = a.get_or("area", "");
  auto watchers = select_users(all, a.get_or("prefix", "fw"), clients);
  if (watchers.size() < clients) throw std::runtime_error("the users file has too few fan-out users");
  Pool pool(url, false);
  for (auto& u : watchers) pool.add(u);
  const std::size_t poster = pool.add(find_user(all, a.get_or("poster", "")));
  pool.connect_all(60 + static_cast<double>(clients) / 50, 200);

  muster::UlidGenerator ids;
  std::vector<double> latency(clients, -1);
  std::size_t got = 0;
  std::string current;
  std::string payload_sample;
  std::string poster_error;
  SteadyClock::time_point t0;
  pool.on_message = [&](std::size_t i, const std::string& payload) {
    if (i == poster) {
      if (frame_type(payload) == "ack" && !ack_ok(payload)) poster_error = payload;
      return;
    }
    if (current.empty() || latency[i] >= 0 || payload.find(current) == std::string::npos) return;
    latency[i] = seconds_since(t0);
    ++got;
    if (payload_sample.empty()) payload_sample = payload;
  };
  std::vector<double> p50s, p99s, maxes;
  long long missing = 0;
  for (int r = 0; r < warmup + reps; ++r) {
    std::fill(latency.begin(), latency.end(), -1.0);
    got = 0;
    const std::string frame = op_frame(ids, "notice.post", Json{{"area", area}, {"text", kNoticeText}, {"priority", "normal"}}, &current);
    t0 = SteadyClock::now();
    pool.send(poster, frame);
    pool.run_until(after(rep_timeout), [&] { return got == clients || !poster_error.empty(); });
    if (!poster_error.empty()) throw std::runtime_error("the notice was rejected: " + poster_error);
    std::vector<double> have;
    for (double l : latency) {
      if (l >= 0) have.push_back(l);
    }
    const double p50 = percentile(have, 0.5), p99 = percentile(have, 0.99);
    const double mx = have.empty() ? std::nan("") : *std::max_element(have.begin(), have.end());
    std::cerr << "fanout " << (r < warmup ? "warm-up" : "rep " + std::to_string(r - warmup + 1)) << ": " << got << "/"
              << clients << " p50 " << p50 << " s, p99 " << p99 << " s, max " << mx << " s\n";
    if (r >= warmup) {
      missing += static_cast<long long>(clients - got);
      p50s.push_back(p50);
      p99s.push_back(p99);
      maxes.push_back(mx);
    }
    current.clear();
    pool.run_for(0.3);  // let acks and stragglers settle
  }
  save_text(a.get_or("save-payload", ""), payload_sample);
  Json out = summarize(p99s);
  out["unit"] = "s (p99)";
  out["clients"] = clients;
  out["p50"] = median(p50s);
  out["max"] = median(maxes);
  out["missing"] = missing;
  std::ostringstream note;
  note << clients << " clients: median p50 " << median(p50s) << " s, p99 " << median(p99s) << " s, max "
       << median(maxes) << " s; " << missing << " deliveries missing";
  out["note"] = note.str();
  emit(out);
  return missing == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- memory

// Opens COUNT connections that say hello and then sit idle; reports the server's RSS
// growth per connection (VmRSS of --pid before connecting and after settling).
int cmd_hold(const muster::Args& a) {
  const std::string url = a.get_or("url", "");
  const auto count = static_cast<std::size_t>(std::stoi(a.get_or("count", "100")));
  const pid_t pid = static_cast<pid_t>(std::stol(a.get_or("pid", "0")));
  const bool echo = a.flag("echo");
  const double settle = std::stod(a.get_or("settle", "1"));
  auto users = select_users(read_users(a.get_or("users-file", "")), a.get_or("prefix", "mem"), count);
  if (users.size() < count) throw std::runtime_error("the users file has too few users for " + std::to_string(count) + " connections");
  const long before = rss_kib(pid);
  if (before < 0) throw std::runtime_error("cannot read VmRSS of pid " + std::to_string(pid));
  Pool pool(url, echo);
  for (auto& u : users) pool.add(u);
  pool.connect_all(120 + static_cast<double>(count) / 100, 200);
  pool.run_for(settle);
  const long with = rss_kib(pid);
  const double per_conn = static_cast<double>(with - before) / static_cast<double>(count);
  std::cerr << "hold: " << count << " connections, RSS " << before << " -> " << with << " KiB: " << per_conn
            << " KiB each\n";
  Json out{{"samples", {per_conn}},
           {"unit", "KiB/conn"},
           {"connections", count},
           {"rss_before_kib", before},
           {"rss_with_kib", with}};
  if (a.get_or("round", "") == "warmup") out["warmup"] = true;  // not a sample
  emit(out);
  // Let the kernel close the sockets: a graceful close of thousands is not what we measure.
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace bench
