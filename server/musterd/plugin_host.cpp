#include "musterd/plugin_host.hpp"

#include <unistd.h>

#include <asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "muster/base/json_parse.hpp"
#include "muster/domain/actor.hpp"
#include "muster/protocol/plugin_frame.hpp"

namespace musterd {

namespace fs = std::filesystem;
namespace domain = muster::domain;
namespace protocol = muster::protocol;
using muster::Errc;
using muster::make_error;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kOriginBit = std::uint64_t{1} << 61;
constexpr int kFeedChunk = 256;
constexpr const char* kDevice = "plugin";  // the device of a plugin's cursors and ops
constexpr std::size_t kMaxLogText = 2000;
// A plugin's config travels inside its init line, one level down: it must decode there.
constexpr std::size_t kMaxConfigDepth = protocol::kMaxFrameDepth - 1;
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// At most kBurst lines per kWindow from one plugin reach the server's log; the rest
// are counted and the count is logged with the next line let through.
class LogLimiter {
 public:
  static constexpr int kBurst = 20;
  static constexpr auto kWindow = std::chrono::seconds(10);

  enum class Verdict { log, log_and_say_stopping, drop };

  Verdict allow(SteadyClock::time_point now) {
    if (now - window_start_ >= kWindow) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ < kBurst) {
      ++used_;
      return used_ == kBurst ? Verdict::log_and_say_stopping : Verdict::log;
    }
    ++suppressed_;
    return Verdict::drop;
  }
  int take_suppressed() { return std::exchange(suppressed_, 0); }

 private:
  SteadyClock::time_point window_start_{};
  int used_ = 0;
  int suppressed_ = 0;
};

// Control characters would let a plugin forge lines of the server's log.
std::string printable(std::string_view text, std::size_t limit = kMaxLogText) {
  std::string out;
  for (char c : text.substr(0, limit)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (text.size() > limit) out += "…";
  return out;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::string s = std::to_string(ms.count() / 1000);
  if (ms.count() % 1000 != 0) s += "." + std::to_string((ms.count() % 1000) / 100);
  return s + " s";
}

std::string self_executable() {
  std::error_code ec;
  auto path = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("musterd") : path.string();
}

}  // namespace

muster::Result<PluginSpec> load_plugin_spec(const std::string& path, const std::string& config_path) {
  PluginSpec spec;
  std::error_code ec;
  spec.path = fs::absolute(path, ec).lexically_normal().string();
  if (ec || ::access(spec.path.c_str(), X_OK) != 0 || fs::is_directory(spec.path, ec)) {
    return make_error(Errc::invalid, "plugin " + path + " is not an executable file");
  }
  if (config_path.empty()) {
    return make_error(Errc::invalid, "plugin " + path +
                                         " needs --plugin-config FILE naming its muster user, e.g. {\"user\":\"bridge\"}");
  }
  spec.config_path = fs::absolute(config_path, ec).lexically_normal().string();
  std::ifstream in(spec.config_path, std::ios::binary);
  if (!in) return make_error(Errc::invalid, "cannot read plugin config " + config_path);
  std::ostringstream text;
  text << in.rdbuf();
  auto config = muster::parse_limited(text.str(), kMaxConfigDepth, kMaxConfigBytes, "plugin config " + config_path);
  if (!config) return config.error();
  if (!config->is_object()) return make_error(Errc::invalid, "plugin config " + config_path + " is not a JSON object");
  spec.config = std::move(*config);
  auto user = spec.config.find("user");
  if (user == spec.config.end() || !user->is_string() || !domain::valid_user_name(user->get<std::string>())) {
    return make_error(Errc::invalid, "plugin config " + config_path + " must name its muster user: \"user\": \"NAME\"");
  }
  spec.user = user->get<std::string>();
  if (auto name = spec.config.find("name"); name != spec.config.end()) {
    if (!name->is_string() || name->get<std::string>().empty()) {
      return make_error(Errc::invalid, "plugin config " + config_path + ": \"name\" must be a non-empty string");
    }
    spec.name = name->get<std::string>();
  } else {
    spec.name = fs::path(spec.path).filename().string();
  }
  if (auto to = spec.config.find("message_to"); to != spec.config.end()) {
    if (!to->is_array() || !std::all_of(to->begin(), to->end(), [](const auto& v) { return v.is_string(); })) {
      return make_error(Errc::invalid, "plugin config " + config_path + ": \"message_to\" must be a list of names");
    }
    spec.message_to = to->get<std::vector<std::string>>();
  }
  spec.cwd = fs::path(spec.config_path).parent_path().string();
  return spec;
}

class PluginHost::Impl {
 public:
  Impl(asio::io_context& io, std::vector<PluginSpec> specs, PluginLimits limits, LogStore& log, Engine& engine,
       Metrics& metrics, Submit submit)
      : io_(io), limits_(limits), log_(log), engine_(engine), metrics_(metrics), submit_(std::move(submit)) {
    std::vector<PluginProgram> programs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      programs.push_back(PluginProgram{specs[i].name, specs[i].path, specs[i].cwd});
      plugins_.push_back(Plugin{std::move(specs[i]), i});
    }
    // The supervisor's thread only posts here.
    PluginSupervisor::Events events;
    events.started = [this](std::size_t i, std::uint64_t gen, int pid) {
      asio::post(io_, [this, i, gen, pid] { on_started(plugins_[i], gen, pid); });
    };
    events.line = [this](std::size_t i, std::uint64_t gen, std::string line) {
      asio::post(io_, [this, i, gen, line = std::move(line)] { on_line(plugins_[i], gen, line); });
    };
    events.written = [this](std::size_t i, std::uint64_t gen, std::size_t bytes) {
      asio::post(io_, [this, i, gen, bytes] { on_written(plugins_[i], gen, bytes); });
    };
    events.notice = [this](std::size_t i, std::uint64_t gen, PluginSupervisor::Notice notice, std::string text) {
      asio::post(io_, [this, i, gen, notice, text = std::move(text)] { on_notice(plugins_[i], gen, notice, text); });
    };
    events.exited = [this](std::size_t i, std::uint64_t gen, std::int64_t status, int signal,
                           std::chrono::milliseconds restart_in) {
      asio::post(io_, [this, i, gen, status, signal, restart_in] {
        on_exited(plugins_[i], gen, status, signal, restart_in);
      });
    };
    supervisor_ = std::make_unique<PluginSupervisor>(self_executable(), std::move(programs), limits_, std::move(events));
  }

  void start() {
    for (const auto& p : plugins_) engine_.set_grants(p.spec.user, domain::Grants{p.spec.message_to});
    supervisor_->start();
  }

  void stop() {
    supervisor_->stop();
    for (auto& p : plugins_) {
      if (p.generation != 0) --metrics_.plugins_running;
      p.generation = 0;
    }
  }

  void on_committed(const Batch& batch) {
    for (auto& p : plugins_) {
      if (p.generation == 0) continue;
      std::string out;
      if (p.subscribed) {
        for (const auto& d : batch.events) {
          auto it = p.sent.find(d.event.scope);
          if (it == p.sent.end() || d.event.seq <= it->second) continue;
          if (d.event.seq == it->second + 1 && p.in_flight + out.size() < limits_.feed_window) {
            out += d.frame;
            out += '\n';
            it->second = d.event.seq;
            ++metrics_.plugin_events_sent;
          } else {
            p.behind = true;  // it reads the rest from the log
          }
        }
      }
      // After the events the plugin could be sent live: an op's own events come first
      // unless the plugin's feed is behind.
      for (const auto& d : batch.decisions) {
        if (!owns(d.origin)) continue;
        auto it = origins_.find(d.origin);
        if (it == origins_.end() || it->second.first != p.index) continue;
        if (it->second.second == p.generation) {
          out += d.ack;
          out += '\n';
        }
        origins_.erase(it);
      }
      if (!out.empty()) write(p, std::move(out));
      if (p.behind) pump(p);
    }
  }

  void on_unavailable(const std::vector<Submission>& batch, const muster::Error& error) {
    for (const auto& s : batch) {
      auto it = origins_.find(s.origin);
      if (it == origins_.end()) continue;
      Plugin& p = plugins_[it->second.first];
      if (it->second.second == p.generation) {
        protocol::Ack ack{s.op.id, false, error, nullptr};
        write(p, protocol::encode(protocol::ServerFrame{ack}) + "\n");
      }
      origins_.erase(it);
    }
  }

 private:
  struct Plugin {
    PluginSpec spec;
    std::size_t index = 0;
    std::uint64_t generation = 0;  // the run being talked to; 0 while none runs
    int pid = 0;
    bool subscribed = false;
    bool caught_up = false;  // caught_up was sent since the last subscribe
    bool behind = false;     // some subscribed scope has events not yet sent
    std::vector<std::string> scopes{};
    std::map<std::string, std::int64_t> sent{};     // scope -> last seq written
    std::map<std::string, std::int64_t> durable{};  // scope -> last seq it acknowledged (log.db)
    std::size_t in_flight = 0;                    // bytes written, not yet taken by its stdin
    LogLimiter limiter{};
  };

  // ------------------------------------------------------------ supervisor reports

  void on_started(Plugin& p, std::uint64_t generation, int pid) {
    if (p.generation == 0) ++metrics_.plugins_running;
    p.generation = generation;
    p.pid = pid;
    p.subscribed = false;
    p.caught_up = false;
    p.behind = false;
    p.scopes.clear();
    p.sent.clear();
    p.in_flight = 0;
    log(p, "started (pid " + std::to_string(pid) + ")", true);

    protocol::PluginInit init;
    init.config = p.spec.config;
    init.user = p.spec.user;
    const UserRecord* user = engine_.directory().user(p.spec.user);
    if (!user || user->disabled || !user->roles.has(domain::Role::plugin)) {
      log(p, "its user " + p.spec.user + " is not an enabled user with the plugin role: its ops will be refused", true);
    }
    if (user) {
      const domain::Actor actor = user->actor();
      init.area = user->area;
      init.scopes = domain::visible_scopes(actor, engine_.directory().areas());
      for (const auto& area : engine_.directory().areas()) {
        if (domain::can_see(actor, domain::area_scope(area))) init.areas.push_back(area);
      }
    }
    try {
      p.durable = log_.read_cursors(p.spec.user, kDevice);
    } catch (const muster::store::SqliteError& e) {
      log(p, std::string("cannot read its cursors: ") + e.what(), true);
    }
    init.cursors = p.durable;
    write(p, protocol::encode_plugin_init(init) + "\n");
  }

  void on_exited(Plugin& p, std::uint64_t generation, std::int64_t status, int signal,
                 std::chrono::milliseconds restart_in) {
    if (p.generation == generation) {
      p.generation = 0;
      --metrics_.plugins_running;
    }
    ++metrics_.plugin_restarts;
    std::string how = signal != 0 ? "was killed by signal " + std::to_string(signal)
                      : status < 0 ? "could not be started"
                                   : "exited with status " + std::to_string(status);
    log(p, how + "; restarting in " + seconds_text(restart_in), true);
  }

  void on_written(Plugin& p, std::uint64_t generation, std::size_t bytes) {
    if (p.generation != generation) return;
    p.in_flight -= std::min(bytes, p.in_flight);
    if (p.behind && p.in_flight < limits_.feed_window / 2) pump(p);
  }

  void on_notice(Plugin& p, std::uint64_t, PluginSupervisor::Notice notice, const std::string& text) {
    switch (notice) {
      case PluginSupervisor::Notice::stderr_line:
        log(p, "(stderr) " + printable(text), false);
        break;
      case PluginSupervisor::Notice::line_too_long:
        ++metrics_.plugin_bad_lines;
        log(p, text, false);
        break;
      case PluginSupervisor::Notice::throttled:  // the supervisor says so at most every 5 s
        ++metrics_.plugin_throttled;
        log(p, text, true);
        break;
      case PluginSupervisor::Notice::spawn_failed:
        log(p, "cannot start " + p.spec.path + ": " + text, true);
        break;
    }
  }

  // ------------------------------------------------------------ lines from a plugin

  void on_line(Plugin& p, std::uint64_t generation, const std::string& line) {
    if (p.generation != generation) return;
    ++metrics_.plugin_lines;
    auto decoded = protocol::decode_plugin_line(line);
    if (!decoded) {
      bad_line(p, line, decoded.error());
      return;
    }
    if (auto* sub = std::get_if<protocol::PluginSubscribe>(&*decoded)) {
      subscribe(p, sub->scopes);
    } else if (auto* op = std::get_if<protocol::OpFrame>(&*decoded)) {
      const std::uint64_t origin = kOriginBit | next_origin_++;
      origins_[origin] = {p.index, p.generation};
      submit_(Submission{std::move(op->op), p.spec.user, kDevice, origin});
    } else if (auto* cursor = std::get_if<protocol::CursorFrame>(&*decoded)) {
      save_cursors(p, cursor->cursors);
    } else if (auto* l = std::get_if<protocol::PluginLog>(&*decoded)) {
      log(p, "[" + printable(l->level, 16) + "] " + printable(l->message), false);
    }
  }

  void bad_line(Plugin& p, const std::string& line, const muster::Error& error) {
    ++metrics_.plugin_bad_lines;
    log(p, "skipped a line: " + error.message + ": " + printable(line, 120), false);
    // An op we cannot read is still answered on its id when it has one, so the
    // plugin's outbox does not wait for it forever.
    auto parsed = muster::parse_limited(line, protocol::kMaxFrameDepth, protocol::kMaxFrameBytes);
    const nlohmann::json j = parsed ? std::move(*parsed) : nlohmann::json();
    if (j.is_object() && j.value("t", "") == "op" && j.contains("id") && j["id"].is_string()) {
      protocol::Ack ack{j["id"].get<std::string>(), false, error, nullptr};
      write(p, protocol::encode(protocol::ServerFrame{ack}) + "\n");
      return;
    }
    error_line(p, "bad_frame", error.message);
  }

  void error_line(Plugin& p, const std::string& code, const std::string& message) {
    write(p, protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{code, message}}) + "\n");
  }

  void subscribe(Plugin& p, const std::vector<std::string>& scopes) {
    const UserRecord* user = engine_.directory().user(p.spec.user);
    if (!user || user->disabled) {
      error_line(p, "unauthorized", p.spec.user + " is not an enabled muster user");
      return;
    }
    for (const auto& scope : scopes) {
      if (!domain::valid_scope(scope) || !domain::can_see(user->actor(), scope)) {
        error_line(p, "unauthorized", "subscribe: scope " + scope + " is not visible to " + p.spec.user);
        return;
      }
    }
    p.scopes.clear();
    p.sent.clear();
    for (const auto& scope : scopes) {
      if (p.sent.count(scope)) continue;
      p.scopes.push_back(scope);
      auto durable = p.durable.find(scope);
      p.sent[scope] = std::min(durable == p.durable.end() ? 0 : durable->second, engine_.head(scope));
    }
    p.subscribed = true;
    p.caught_up = false;
    p.behind = true;
    pump(p);
  }

  void save_cursors(Plugin& p, const protocol::Cursors& cursors) {
    std::map<std::string, std::int64_t> moved;
    for (const auto& [scope, seq] : cursors) {
      auto sent = p.sent.find(scope);
      if (sent == p.sent.end() || seq > sent->second) {
        error_line(p, "bad_frame", "cursor: " + scope + " " + std::to_string(seq) + " was not delivered");
        continue;
      }
      auto durable = p.durable.find(scope);
      if (durable == p.durable.end() || seq > durable->second) moved[scope] = seq;
    }
    if (moved.empty()) return;
    try {
      // At once, not with the next housekeeping: after a crash the plugin must not be
      // fed again what it has acknowledged.
      muster::store::Transaction tx(log_.db());
      const std::string now = muster::format_utc(muster::SystemClock().now_ms());
      for (const auto& [scope, seq] : moved) log_.save_cursor(p.spec.user, kDevice, scope, seq, now);
      tx.commit();
    } catch (const muster::store::SqliteError& e) {
      log(p, std::string("cannot save its cursors (it will be fed them again): ") + e.what(), true);
      return;
    }
    for (const auto& [scope, seq] : moved) p.durable[scope] = seq;
  }

  // ------------------------------------------------------------ the feed

  // Reads the plugin's next events from the log while its window has room: the log is
  // its queue, so a plugin that does not read holds no memory of ours.
  void pump(Plugin& p) {
    if (p.generation == 0 || !p.subscribed) return;
    std::string out;
    try {
      bool more = true;
      while (more && p.in_flight + out.size() < limits_.feed_window) {
        more = false;
        for (const auto& scope : p.scopes) {
          auto& sent = p.sent[scope];
          if (sent >= engine_.head(scope)) continue;
          auto rows = log_.read_scope(scope, sent, kFeedChunk);
          for (auto& [seq, frame] : rows) {
            out += frame;
            out += '\n';
            sent = seq;
          }
          metrics_.plugin_events_sent += static_cast<std::int64_t>(rows.size());
          if (!rows.empty() && sent < engine_.head(scope)) more = true;
          if (p.in_flight + out.size() >= limits_.feed_window) break;
        }
      }
    } catch (const muster::store::SqliteError& e) {
      log(p, std::string("cannot read its feed from the log: ") + e.what(), true);
    }
    p.behind = std::any_of(p.scopes.begin(), p.scopes.end(),
                           [&](const std::string& scope) { return p.sent[scope] < engine_.head(scope); });
    if (!p.behind && !p.caught_up) {
      out += protocol::encode(protocol::ServerFrame{protocol::CaughtUp{}});
      out += '\n';
      p.caught_up = true;
    }
    if (!out.empty()) write(p, std::move(out));
  }

  void write(Plugin& p, std::string data) {
    if (p.generation == 0) return;
    p.in_flight += data.size();
    supervisor_->write(p.index, p.generation, std::move(data));
  }

  void log(Plugin& p, const std::string& text, bool always) {
    const auto verdict = always ? LogLimiter::Verdict::log : p.limiter.allow(SteadyClock::now());
    if (verdict == LogLimiter::Verdict::drop) return;
    if (const int n = p.limiter.take_suppressed(); n > 0) {
      std::cerr << "musterd: plugin " << p.spec.name << ": (" << n << " more lines were not logged)\n";
    }
    std::cerr << "musterd: plugin " << p.spec.name << ": " << text << '\n';
    if (verdict == LogLimiter::Verdict::log_and_say_stopping) {
      std::cerr << "musterd: plugin " << p.spec.name << ": too much to log: its next lines are counted, not logged, for "
                << std::chrono::duration_cast<std::chrono::seconds>(LogLimiter::kWindow).count() << " s\n";
    }
  }

  asio::io_context& io_;
  PluginLimits limits_;
  LogStore& log_;
  Engine& engine_;
  Metrics& metrics_;
  Submit submit_;
  std::vector<Plugin> plugins_;
  std::unique_ptr<PluginSupervisor> supervisor_;
  std::unordered_map<std::uint64_t, std::pair<std::size_t, std::uint64_t>> origins_;  // -> plugin, generation
  std::uint64_t next_origin_ = 1;
};

PluginHost::PluginHost(asio::io_context& io, std::vector<PluginSpec> plugins, PluginLimits limits, LogStore& log,
                       Engine& engine, Metrics& metrics, Submit submit)
    : impl_(std::make_unique<Impl>(io, std::move(plugins), limits, log, engine, metrics, std::move(submit))) {}

PluginHost::~PluginHost() = default;

void PluginHost::start() { impl_->start(); }
void PluginHost::stop() { impl_->stop(); }
bool PluginHost::owns(std::uint64_t origin) { return (origin & kOriginBit) != 0; }
void PluginHost::on_committed(const Batch& batch) { impl_->on_committed(batch); }
void PluginHost::on_unavailable(const std::vector<Submission>& batch, const muster::Error& error) {
  impl_->on_unavailable(batch, error);
}

}  // namespace musterd
