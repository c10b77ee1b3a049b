#include "musterd/adapters/plugin_host.hpp"

#include <unistd.h>

#include <asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "muster/base/json_parse.hpp"
#include "muster/domain/actor.hpp"
#include "muster/protocol/plugin_frame.hpp"
#include "musterd/core/log.hpp"
#include "musterd/core/subscriber.hpp"

namespace musterd {

namespace fs = std::filesystem;
namespace domain = muster::domain;
namespace protocol = muster::protocol;
using muster::Errc;
using muster::make_error;
using SteadyClock = std::chrono::steady_clock;

namespace {

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

// A name a line gives itself (its type, its op's kind) is shown when it looks like one:
// a short word of ASCII letters, digits and . _ : -. Anything else is what a line
// carries, not what it is, and stays out of the log.
bool shows_as_name(std::string_view text) {
  if (text.empty() || text.size() > 40) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

// What a skipped line was, without what it held: its type and its op's kind when
// they show as names, and its size.
std::string line_summary(const nlohmann::json& j, std::size_t bytes) {
  std::string out;
  auto name = [&](const char* field) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string() || !shows_as_name(it->get_ref<const std::string&>())) return;
    out += std::string(field) + " '" + it->get<std::string>() + "', ";
  };
  if (j.is_object()) {
    name("t");
    name("kind");
  }
  return out + std::to_string(bytes) + " bytes";
}

// Why a line was skipped. The decoders' messages name fields, never their values,
// except the line's own type ("unknown line type 'X'"): one that does not show as a
// name is cut out.
std::string skip_reason(std::string message, const nlohmann::json& j) {
  if (j.is_object() && j.contains("t") && j["t"].is_string()) {
    const std::string& t = j["t"].get_ref<const std::string&>();
    if (!t.empty() && !shows_as_name(t)) {
      const std::string cut = "…";
      for (auto at = message.find(t); at != std::string::npos; at = message.find(t, at + cut.size())) {
        message.replace(at, t.size(), cut);
      }
    }
  }
  return printable(message, 200);
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
  Impl(asio::io_context& io, Hub& hub, std::vector<PluginSpec> specs, PluginLimits limits)
      : io_(io), hub_(hub), limits_(limits), metrics_(hub.metrics()) {
    std::vector<PluginProgram> programs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      programs.push_back(PluginProgram{specs[i].name, specs[i].path, specs[i].cwd});
      plugins_.push_back(std::make_unique<Plugin>(*this, std::move(specs[i]), i));
    }
    // The supervisor's thread only posts here.
    PluginSupervisor::Events events;
    events.started = [this](std::size_t i, std::uint64_t gen, int pid) {
      asio::post(io_, [this, i, gen, pid] { on_started(*plugins_[i], gen, pid); });
    };
    events.line = [this](std::size_t i, std::uint64_t gen, std::string line) {
      asio::post(io_, [this, i, gen, line = std::move(line)] { on_line(*plugins_[i], gen, line); });
    };
    events.written = [this](std::size_t i, std::uint64_t gen, std::size_t bytes) {
      asio::post(io_, [this, i, gen, bytes] { on_written(*plugins_[i], gen, bytes); });
    };
    events.notice = [this](std::size_t i, std::uint64_t gen, PluginSupervisor::Notice notice, std::string text) {
      asio::post(io_, [this, i, gen, notice, text = std::move(text)] { on_notice(*plugins_[i], gen, notice, text); });
    };
    events.exited = [this](std::size_t i, std::uint64_t gen, std::int64_t status, int signal,
                           std::chrono::milliseconds restart_in) {
      asio::post(io_, [this, i, gen, status, signal, restart_in] {
        on_exited(*plugins_[i], gen, status, signal, restart_in);
      });
    };
    supervisor_ = std::make_unique<PluginSupervisor>(self_executable(), std::move(programs), limits_, std::move(events));
  }

  void start() {
    for (const auto& p : plugins_) hub_.engine().set_grants(p->spec.user, domain::Grants{p->spec.message_to});
    supervisor_->start();
  }

  void stop() {
    supervisor_->stop();
    for (auto& p : plugins_) {
      if (p->generation != 0) --metrics_.plugins_running;
      p->generation = 0;
      p->session.reset();
    }
  }

 private:
  struct Plugin;

  // One run of a plugin: its session, answered on its stdin.
  class RunPort final : public SessionPort {
   public:
    RunPort(Impl& host, Plugin& plugin, SessionRules rules)
        : host_(host), plugin_(plugin), subscriber_(host.hub_, *this, std::move(rules)) {
      subscriber_.authenticate_as(plugin.spec.user, kDevice);
    }

    Subscriber& subscriber() { return subscriber_; }

    void send(FrameKind kind, const std::string& frame) override {
      if (kind == FrameKind::event) ++host_.metrics_.plugin_events_sent;
      host_.write(plugin_, frame + "\n");
    }
    std::size_t backlog() const override { return plugin_.in_flight; }
    void resume_when_drained() override { waiting_ = true; }
    // The plugin runs on; its session starts afresh, and says why it ended.
    void close(CloseReason reason, const std::string& text) override {
      if (reason == CloseReason::stopping) return;
      host_.error_line(plugin_, reason == CloseReason::storage ? "unavailable" : "unauthorized", text);
      asio::post(host_.io_, [&host = host_, &plugin = plugin_, generation = plugin_.generation] {
        if (plugin.generation == generation) host.new_session(plugin);
      });
    }

    // Some of what was written for it left for its stdin.
    void drained() {
      if (waiting_ && plugin_.in_flight < host_.limits_.feed_window / 2) {
        waiting_ = false;
        subscriber_.pump();
      }
    }

   private:
    Impl& host_;
    Plugin& plugin_;
    bool waiting_ = false;
    Subscriber subscriber_;  // last: it goes first, while the port is whole
  };

  struct Plugin {
    Plugin(Impl& host_, PluginSpec spec_, std::size_t index_) : host(host_), spec(std::move(spec_)), index(index_) {}
    Impl& host;
    PluginSpec spec;
    std::size_t index = 0;
    std::uint64_t generation = 0;  // the run being talked to; 0 while none runs
    int pid = 0;
    std::size_t in_flight = 0;     // bytes written, not yet taken by its stdin
    LogLimiter limiter{};
    std::unique_ptr<RunPort> session;  // for the current run
  };

  void new_session(Plugin& p) {
    SessionRules rules;
    rules.transport = "plugin";
    rules.credentials = false;  // the server started it under its configured user
    rules.replay_window = limits_.feed_window;
    rules.live_window = limits_.feed_window;
    rules.replay_chunk = kFeedChunk;
    p.session.reset();
    p.session = std::make_unique<RunPort>(*this, p, std::move(rules));
  }

  // ------------------------------------------------------------ supervisor reports

  void on_started(Plugin& p, std::uint64_t generation, int pid) {
    if (p.generation == 0) ++metrics_.plugins_running;
    p.generation = generation;
    p.pid = pid;
    p.in_flight = 0;
    new_session(p);
    log(p, "started (pid " + std::to_string(pid) + ")", true);

    protocol::PluginInit init;
    init.config = p.spec.config;
    init.user = p.spec.user;
    const Directory& directory = hub_.directory();
    const UserRecord* user = directory.user(p.spec.user);
    if (!user || user->disabled || !user->roles.has(domain::Role::plugin)) {
      log(p, "its user " + p.spec.user + " is not an enabled user with the plugin role: its ops will be refused", true,
          LogLevel::warn);
    }
    if (user) {
      const domain::Actor actor = user->actor();
      init.area = user->area;
      init.scopes = domain::visible_scopes(actor, directory.areas());
      for (const auto& area : directory.areas()) {
        if (domain::can_see(actor, domain::area_scope(area))) init.areas.push_back(area);
      }
      // Display names, for what it tells people (the chat bridge: "王芳 accepted …").
      for (const auto& [name, u] : directory.users()) {
        if (u.display.empty() || u.display == name) continue;
        if (domain::shares_neighbourhood(user->area, u.area)) {
          init.people[name] = u.display;
        }
      }
    }
    try {
      init.cursors = hub_.receipts(p.spec.user, kDevice);
    } catch (const muster::store::SqliteError& e) {
      log(p, std::string("cannot read its cursors: ") + e.what(), true, LogLevel::error);
    }
    write(p, protocol::encode_plugin_init(init) + "\n");
  }

  void on_exited(Plugin& p, std::uint64_t generation, std::int64_t status, int signal,
                 std::chrono::milliseconds restart_in) {
    if (p.generation == generation) {
      p.generation = 0;
      p.session.reset();
      --metrics_.plugins_running;
    }
    ++metrics_.plugin_restarts;
    std::string how = signal != 0 ? "was killed by signal " + std::to_string(signal)
                      : status < 0 ? "could not be started"
                                   : "exited with status " + std::to_string(status);
    log(p, how + "; restarting in " + seconds_text(restart_in), true, LogLevel::warn);
  }

  void on_written(Plugin& p, std::uint64_t generation, std::size_t bytes) {
    if (p.generation != generation) return;
    p.in_flight -= std::min(bytes, p.in_flight);
    if (p.session) p.session->drained();
  }

  void on_notice(Plugin& p, std::uint64_t, PluginSupervisor::Notice notice, const std::string& text) {
    switch (notice) {
      case PluginSupervisor::Notice::stderr_line:
        log(p, "(stderr) " + printable(text), false);
        break;
      case PluginSupervisor::Notice::line_too_long:
        ++metrics_.plugin_bad_lines;
        log(p, text, false, LogLevel::warn);
        break;
      case PluginSupervisor::Notice::throttled:  // the supervisor says so at most every 5 s
        ++metrics_.plugin_throttled;
        log(p, text, true, LogLevel::warn);
        break;
      case PluginSupervisor::Notice::spawn_failed:
        log(p, "cannot start " + p.spec.path + ": " + text, true, LogLevel::error);
        break;
    }
  }

  // ------------------------------------------------------------ lines from a plugin

  void on_line(Plugin& p, std::uint64_t generation, const std::string& line) {
    if (p.generation != generation || !p.session) return;
    ++metrics_.plugin_lines;
    auto decoded = protocol::decode_plugin_line(line);
    if (!decoded) {
      bad_line(p, line, decoded.error());
      return;
    }
    Subscriber& session = p.session->subscriber();
    if (auto* sub = std::get_if<protocol::PluginSubscribe>(&*decoded)) {
      session.subscribe(sub->scopes, sub->cursors);
    } else if (auto* op = std::get_if<protocol::OpFrame>(&*decoded)) {
      session.op(std::move(op->op));
    } else if (auto* cursor = std::get_if<protocol::CursorFrame>(&*decoded)) {
      session.cursor(cursor->cursors);
    } else if (auto* backfill = std::get_if<protocol::Backfill>(&*decoded)) {
      session.backfill(*backfill);
    } else if (auto* l = std::get_if<protocol::PluginLog>(&*decoded)) {
      log(p, "[" + printable(l->level, 16) + "] " + printable(l->message), false);
    }
  }

  void bad_line(Plugin& p, const std::string& line, const muster::Error& error) {
    ++metrics_.plugin_bad_lines;
    auto parsed = muster::parse_limited(line, protocol::kMaxFrameDepth, protocol::kMaxFrameBytes);
    const nlohmann::json j = parsed ? std::move(*parsed) : nlohmann::json();
    // The line may be an op carrying hotline notes or a resident's phone: the log says
    // what kind of line it was and why it was skipped, never what it held.
    log(p, "skipped a line: " + skip_reason(error.message, j) + " (" + line_summary(j, line.size()) + ")", false,
        LogLevel::warn);
    // An op we cannot read is still answered on its id when it has one, so the
    // plugin's outbox does not wait for it forever.
    if (j.is_object() && j.value("t", "") == "op" && j.contains("id") && j["id"].is_string()) {
      protocol::Ack ack{j["id"].get<muster::domain::OpId>(), false, error, nullptr};
      write(p, protocol::encode(protocol::ServerFrame{ack}) + "\n");
      return;
    }
    error_line(p, "bad_frame", error.message);
  }

  void error_line(Plugin& p, const std::string& code, const std::string& message) {
    write(p, protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{code, message}}) + "\n");
  }

  void write(Plugin& p, std::string data) {
    if (p.generation == 0) return;
    p.in_flight += data.size();
    supervisor_->write(p.index, p.generation, std::move(data));
  }

  void log(Plugin& p, const std::string& text, bool always, LogLevel level = LogLevel::info) {
    const auto verdict = always ? LogLimiter::Verdict::log : p.limiter.allow(SteadyClock::now());
    if (verdict == LogLimiter::Verdict::drop) return;
    const std::string who = "plugin " + printable(p.spec.name, 100) + ": ";
    if (const int n = p.limiter.take_suppressed(); n > 0) {
      log_warn(who + "(" + std::to_string(n) + " more lines were not logged)");
    }
    log_line(level, who + text);
    if (verdict == LogLimiter::Verdict::log_and_say_stopping) {
      log_warn(who + "too much to log: its next lines are counted, not logged, for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(LogLimiter::kWindow).count()) + " s");
    }
  }

  asio::io_context& io_;
  Hub& hub_;
  PluginLimits limits_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::unique_ptr<PluginSupervisor> supervisor_;
};

PluginHost::PluginHost(asio::io_context& io, Hub& hub, std::vector<PluginSpec> plugins, PluginLimits limits)
    : impl_(std::make_unique<Impl>(io, hub, std::move(plugins), limits)) {}

PluginHost::~PluginHost() = default;

void PluginHost::start() { impl_->start(); }
void PluginHost::stop() { impl_->stop(); }

}  // namespace musterd
