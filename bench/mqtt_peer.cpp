// The MQTT peers, against a real Mosquitto (persistence off) that scripts/bench starts:
//
//  * mqtt-delivery: Paho MQTT C++ — one publisher keeping WINDOW QoS 1 publishes
//    unacknowledged (PUBACK), one subscriber (QoS 1) counting messages per second.
//  * mqtt-fanout: N subscribers and one publisher as a minimal MQTT 3.1.1 client over
//    raw TCP on one Asio io_context, one thread — the same shape as muster's fan-out
//    watcher (WebSocket++ on one io_context). Paho is not used here: each Paho client
//    owns a persistence/command queue and the C library serialises every client through
//    its own global send and receive threads, so thousands of Paho clients in one
//    process measure Paho's bookkeeping, not the broker; a raw client costs a socket
//    and a few hundred bytes.
#include <asio.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench.hpp"

#ifdef MUSTER_BENCH_HAVE_PAHO
#include <mqtt/async_client.h>
#endif

namespace bench {

namespace {

std::string read_payload(const muster::Args& a) {
  const std::string path = a.get_or("payload-file", "");
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    if (!s.str().empty()) return s.str();
  }
  // No sample from muster's run: an event frame of the same shape.
  return Json{{"t", "event"},
              {"scope", "user:drecv"},
              {"seq", 1},
              {"gseq", 1},
              {"id", "01KAQ3M70000000000000000AB"},
              {"op", "01KAQ3M6ZP7G8C5V8N1S2T3W4X"},
              {"kind", "message.sent"},
              {"actor", "dsend"},
              {"at", "2026-11-24T08:00:00Z"},
              {"body", {{"id", "01KAQ3M6ZP7G8C5V8N1S2T3W4X"}, {"from", "dsend"}, {"to", "drecv"}, {"text", kMessageText}}}}
      .dump();
}

}  // namespace

// ---------------------------------------------------------------- delivery (Paho)

#ifdef MUSTER_BENCH_HAVE_PAHO

namespace {

// Paho calls this on its own thread: only counters and a notification, never the client.
class PubackCounter : public mqtt::callback {
 public:
  void delivery_complete(mqtt::delivery_token_ptr) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      --in_flight;
    }
    cv.notify_one();
  }
  std::mutex mutex;
  std::condition_variable cv;
  int in_flight = 0;
};

}  // namespace

int cmd_mqtt_delivery(const muster::Args& a) {
  const std::string broker = a.get_or("broker", "tcp://127.0.0.1:1883");
  const int window = std::stoi(a.get_or("window", "64"));
  const double warmup = std::stod(a.get_or("warmup", "2"));
  const double duration = std::stod(a.get_or("duration", "5"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  const std::string payload = read_payload(a);
  const std::string topic = "bench/delivery";
  const auto wait = std::chrono::seconds(10);

  mqtt::async_client sub(broker, "bench-sub");  // no persistence
  std::atomic<long long> received{0};
  sub.set_message_callback([&received](mqtt::const_message_ptr) { received.fetch_add(1, std::memory_order_relaxed); });
  auto options = mqtt::connect_options_builder().clean_session(true).keep_alive_interval(std::chrono::seconds(60)).finalize();
  if (!sub.connect(options)->wait_for(wait)) throw std::runtime_error("subscriber: no CONNACK from " + broker);
  if (!sub.subscribe(topic, 1)->wait_for(wait)) throw std::runtime_error("subscriber: no SUBACK");

  mqtt::async_client pub(broker, "bench-pub");
  PubackCounter counter;
  pub.set_callback(counter);
  auto pub_options = mqtt::connect_options_builder()
                         .clean_session(true)
                         .keep_alive_interval(std::chrono::seconds(60))
                         .max_inflight(window)
                         .finalize();
  if (!pub.connect(pub_options)->wait_for(wait)) throw std::runtime_error("publisher: no CONNACK from " + broker);

  auto publish_until = [&](SteadyClock::time_point end) {
    std::unique_lock<std::mutex> lock(counter.mutex);
    while (SteadyClock::now() < end) {
      while (counter.in_flight < window) {
        ++counter.in_flight;
        lock.unlock();
        pub.publish(topic, payload.data(), payload.size(), 1, false);
        lock.lock();
      }
      counter.cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return counter.in_flight < window; });
    }
  };
  publish_until(after(warmup));
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const long long before = received.load();
    const auto start = SteadyClock::now();
    publish_until(after(duration));
    samples.push_back(static_cast<double>(received.load() - before) / seconds_since(start));
    std::cerr << "mqtt-delivery rep " << r + 1 << ": " << static_cast<long long>(samples.back()) << " msgs/s\n";
  }
  // Drain what is in flight before disconnecting.
  {
    std::unique_lock<std::mutex> lock(counter.mutex);
    counter.cv.wait_for(lock, std::chrono::seconds(5), [&] { return counter.in_flight == 0; });
  }
  pub.disconnect()->wait_for(wait);
  sub.disconnect()->wait_for(wait);
  Json out = summarize(samples);
  out["unit"] = "events/s";
  out["window"] = window;
  out["payload_bytes"] = payload.size();
  out["note"] = "Paho C++ QoS 1, window " + std::to_string(window) + " unacknowledged publishes, Mosquitto persistence off";
  emit(out);
  return 0;
}

#else

int cmd_mqtt_delivery(const muster::Args&) {
  emit(Json{{"error", "muster-bench was built without Paho MQTT C++ (find_package(PahoMqttCpp) failed)"}});
  return 1;
}

#endif

// ---------------------------------------------------------------- fan-out (raw MQTT)

namespace {

using asio::ip::tcp;

void put_u16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_str(std::string& out, const std::string& s) {
  put_u16(out, s.size());
  out += s;
}

std::string packet(unsigned char type_flags, const std::string& body) {
  std::string out(1, static_cast<char>(type_flags));
  std::size_t n = body.size();
  do {
    unsigned char b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
  return out + body;
}

std::string connect_packet(const std::string& client_id) {
  std::string body;
  put_str(body, "MQTT");
  body.push_back(4);      // protocol level 3.1.1
  body.push_back(0x02);   // clean session
  put_u16(body, 0);       // no keep-alive: idle clients must not need pings
  put_str(body, client_id);
  return packet(0x10, body);
}

class MqttFan {
 public:
  struct Conn {
    explicit Conn(asio::io_context& io) : sock(io) {}
    tcp::socket sock;
    std::vector<unsigned char> in = std::vector<unsigned char>(8192);
    std::size_t have = 0;
    std::deque<std::string> out;
    bool writing = false;
    bool ready = false;
  };

  MqttFan(tcp::endpoint broker, std::size_t subscribers, std::string topic)
      : broker_(broker), subscribers_(subscribers), topic_(std::move(topic)) {
    for (std::size_t i = 0; i <= subscribers; ++i) conns_.push_back(std::make_unique<Conn>(io_));
  }

  // Index `subscribers` is the publisher.
  void connect_all(double timeout_s, std::size_t parallel) {
    const auto deadline = after(timeout_s);
    const auto start = SteadyClock::now();
    pump(parallel);
    while (ready_ < conns_.size() && failed_ == 0 && SteadyClock::now() < deadline) {
      run_one(deadline);
      pump(parallel);
    }
    if (ready_ < conns_.size()) {
      throw std::runtime_error("only " + std::to_string(ready_) + " of " + std::to_string(conns_.size()) +
                               " MQTT clients ready" + (error_.empty() ? std::string() : ": " + error_));
    }
    std::cerr << "mqtt: connected " << conns_.size() << " in " << seconds_since(start) << " s\n";
  }

  void publish(std::uint16_t packet_id, const std::string& payload) {
    std::string body;
    put_str(body, topic_);
    put_u16(body, packet_id);
    body += payload;
    write(subscribers_, packet(0x32, body));  // PUBLISH, QoS 1
  }

  bool run_until(SteadyClock::time_point deadline, const std::function<bool()>& done) {
    while (SteadyClock::now() < deadline) {
      if (done()) return true;
      run_one(deadline);
      if (failed_ > 0) throw std::runtime_error("an MQTT connection was lost: " + error_);
    }
    return done();
  }

  std::function<void(std::size_t, const unsigned char*, std::size_t)> on_publish;

 private:
  void run_one(SteadyClock::time_point deadline) {
    if (io_.run_one_until(deadline) == 0 && io_.stopped()) {
      io_.restart();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void pump(std::size_t parallel) {
    while (started_ < conns_.size() && started_ - ready_ - failed_ < parallel) start(started_++);
  }

  void start(std::size_t i) {
    conns_[i]->sock.async_connect(broker_, [this, i](const std::error_code& ec) {
      if (ec) return fail(i, "connect: " + ec.message());
      std::error_code ignored;
      conns_[i]->sock.set_option(tcp::no_delay(true), ignored);
      write(i, connect_packet(i == subscribers_ ? "bench-fan-pub" : "bench-fan-" + std::to_string(i)));
      read(i);
    });
  }

  void fail(std::size_t i, const std::string& why) {
    ++failed_;
    if (error_.empty()) error_ = "client " + std::to_string(i) + ": " + why;
  }

  void write(std::size_t i, std::string bytes) {
    Conn& c = *conns_[i];
    c.out.push_back(std::move(bytes));
    if (!c.writing) write_next(i);
  }

  void write_next(std::size_t i) {
    Conn& c = *conns_[i];
    if (c.out.empty()) {
      c.writing = false;
      return;
    }
    c.writing = true;
    asio::async_write(c.sock, asio::buffer(c.out.front()), [this, i](const std::error_code& ec, std::size_t) {
      if (ec) return fail(i, "write: " + ec.message());
      conns_[i]->out.pop_front();
      write_next(i);
    });
  }

  void read(std::size_t i) {
    Conn& c = *conns_[i];
    if (c.in.size() - c.have < 4096) c.in.resize(c.in.size() * 2);
    c.sock.async_read_some(asio::buffer(c.in.data() + c.have, c.in.size() - c.have),
                           [this, i](const std::error_code& ec, std::size_t n) {
                             if (ec) return fail(i, "read: " + ec.message());
                             conns_[i]->have += n;
                             parse(i);
                             read(i);
                           });
  }

  void parse(std::size_t i) {
    Conn& c = *conns_[i];
    std::size_t pos = 0;
    while (c.have - pos >= 2) {
      std::size_t len = 0, mult = 1, k = 1;
      bool complete = false;
      for (; k <= 4 && pos + k < c.have; ++k) {
        len += (c.in[pos + k] & 0x7f) * mult;
        mult *= 128;
        if ((c.in[pos + k] & 0x80) == 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      const std::size_t header = k + 1;
      if (c.have - pos < header + len) break;
      handle(i, c.in[pos], c.in.data() + pos + header, len);
      pos += header + len;
    }
    if (pos > 0) {
      std::memmove(c.in.data(), c.in.data() + pos, c.have - pos);
      c.have -= pos;
    }
  }

  void handle(std::size_t i, unsigned char first, const unsigned char* body, std::size_t len) {
    Conn& c = *conns_[i];
    switch (first >> 4) {
      case 2:  // CONNACK
        if (len < 2 || body[1] != 0) return fail(i, "CONNACK refused");
        if (i == subscribers_) {
          mark_ready(c);
        } else {
          std::string sub;
          put_u16(sub, 1);
          put_str(sub, topic_);
          sub.push_back(1);  // QoS 1
          write(i, packet(0x82, sub));
        }
        break;
      case 9:  // SUBACK
        if (len < 3 || body[2] > 2) return fail(i, "SUBACK refused");
        mark_ready(c);
        break;
      case 3: {  // PUBLISH
        const int qos = (first >> 1) & 3;
        if (len < 2) return;
        const std::size_t topic_len = (static_cast<std::size_t>(body[0]) << 8) | body[1];
        std::size_t off = 2 + topic_len;
        if (qos > 0) {
          if (len < off + 2) return;
          std::string ack;
          ack.push_back(static_cast<char>(body[off]));
          ack.push_back(static_cast<char>(body[off + 1]));
          write(i, packet(0x40, ack));  // PUBACK
          off += 2;
        }
        if (on_publish && off <= len) on_publish(i, body + off, len - off);
        break;
      }
      default:  // PUBACK to the publisher, PINGRESP: nothing to do
        break;
    }
  }

  void mark_ready(Conn& c) {
    if (c.ready) return;
    c.ready = true;
    ++ready_;
  }

  asio::io_context io_;
  tcp::endpoint broker_;
  std::size_t subscribers_;
  std::string topic_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::size_t started_ = 0;
  std::size_t ready_ = 0;
  std::size_t failed_ = 0;
  std::string error_;
};

}  // namespace

int cmd_mqtt_fanout(const muster::Args& a) {
  const auto clients = static_cast<std::size_t>(std::stoi(a.get_or("clients", "100")));
  const int warmup = std::stoi(a.get_or("warmup", "1"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  const double rep_timeout = std::stod(a.get_or("rep-timeout", "15"));
  const std::string payload = read_payload(a);
  std::error_code ec;
  tcp::endpoint broker(asio::ip::make_address(a.get_or("host", "127.0.0.1"), ec),
                       static_cast<unsigned short>(std::stoi(a.get_or("port", "1883"))));
  if (ec) throw std::runtime_error("bad --host");
  MqttFan fan(broker, clients, "bench/fanout");
  fan.connect_all(60 + static_cast<double>(clients) / 50, 200);
  std::vector<double> latency(clients, -1);
  std::size_t got = 0;
  bool measuring = false;
  SteadyClock::time_point t0;
  fan.on_publish = [&](std::size_t i, const unsigned char*, std::size_t) {
    if (!measuring || latency[i] >= 0) return;
    latency[i] = seconds_since(t0);
    ++got;
  };
  std::vector<double> p50s, p99s, maxes;
  long long missing = 0;
  for (int r = 0; r < warmup + reps; ++r) {
    std::fill(latency.begin(), latency.end(), -1.0);
    got = 0;
    measuring = true;
    t0 = SteadyClock::now();
    fan.publish(static_cast<std::uint16_t>(r + 1), payload);
    fan.run_until(after(rep_timeout), [&] { return got == clients; });
    std::vector<double> have;
    for (double l : latency) {
      if (l >= 0) have.push_back(l);
    }
    const double p50 = percentile(have, 0.5), p99 = percentile(have, 0.99);
    const double mx = have.empty() ? std::nan("") : *std::max_element(have.begin(), have.end());
    std::cerr << "mqtt-fanout " << (r < warmup ? "warm-up" : "rep " + std::to_string(r - warmup + 1)) << ": " << got
              << "/" << clients << " p50 " << p50 << " s, p99 " << p99 << " s, max " << mx << " s\n";
    if (r >= warmup) {
      missing += static_cast<long long>(clients - got);
      p50s.push_back(p50);
      p99s.push_back(p99);
      maxes.push_back(mx);
    }
    measuring = false;
    fan.run_until(after(0.3), [] { return false; });
  }
  Json out = summarize(p99s);
  out["unit"] = "s (p99)";
  out["clients"] = clients;
  out["p50"] = median(p50s);
  out["max"] = median(maxes);
  out["missing"] = missing;
  std::ostringstream note;
  note << clients << " raw MQTT 3.1.1 QoS 1 subscribers on one thread: median p50 " << median(p50s) << " s, p99 "
       << median(p99s) << " s, max " << median(maxes) << " s; " << missing << " missing";
  out["note"] = note.str();
  emit(out);
  std::fflush(nullptr);
  std::_Exit(missing == 0 ? 0 : 1);  // thousands of sockets: let the kernel close them
}

}  // namespace bench
