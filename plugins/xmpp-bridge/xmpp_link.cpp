#include "xmpp-bridge/xmpp_link.hpp"

#include <strophe.h>

#include <algorithm>
#include <map>

#include "xmpp-bridge/log.hpp"

namespace xmpp_bridge {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kMinBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::milliseconds(30000);

}  // namespace

class XmppLink::Impl {
 public:
  Impl(Options options, OnMessage on_message, Log log)
      : options_(std::move(options)), on_message_(std::move(on_message)), log_(std::move(log)) {
    xmpp_initialize();
    // libstrophe's warnings and errors only: its debug and info lines carry the stanzas
    // (residents' messages) and the login.
    logger_.handler = [](void*, xmpp_log_level_t level, const char* area, const char* msg) {
      if (level < XMPP_LEVEL_WARN) return;
      log_line(level == XMPP_LEVEL_ERROR ? LogLevel::error : LogLevel::warn, std::string("xmpp: ") + area + ": " + msg);
    };
    logger_.userdata = this;
    ctx_ = xmpp_ctx_new(nullptr, &logger_);
  }

  ~Impl() {
    release();
    xmpp_ctx_free(ctx_);
    xmpp_shutdown();
  }

  void run_once(std::chrono::milliseconds timeout) {
    if (conn_ && disconnected_) release();
    if (!conn_ && !closing_ && SteadyClock::now() >= next_attempt_) connect();
    xmpp_run_once(ctx_, static_cast<unsigned long>(timeout.count()));
  }

  bool online() const { return conn_ && online_; }

  int fd() const { return conn_ && !disconnected_ ? fd_ : -1; }

  void send(const std::string& to, const std::string& body, const std::string& id) {
    if (!online()) return;
    xmpp_stanza_t* msg = xmpp_message_new(ctx_, "chat", to.c_str(), id.empty() ? nullptr : id.c_str());
    xmpp_message_set_body(msg, body.c_str());
    xmpp_send(conn_, msg);
    xmpp_stanza_release(msg);
  }

  std::size_t queued() const { return conn_ ? static_cast<std::size_t>(xmpp_conn_send_queue_len(conn_)) : 0; }

  void go_unavailable() {
    if (!online()) return;
    xmpp_stanza_t* p = xmpp_presence_new(ctx_);
    xmpp_stanza_set_type(p, "unavailable");
    xmpp_send(conn_, p);
    xmpp_stanza_release(p);
  }

  void close(std::chrono::milliseconds timeout) {
    closing_ = true;
    if (!conn_) return;
    if (!disconnected_) xmpp_disconnect(conn_);
    const auto deadline = SteadyClock::now() + timeout;
    while (!disconnected_ && SteadyClock::now() < deadline) xmpp_run_once(ctx_, 50);
    release();
  }

  bool replaced() const { return replaced_; }

 private:
  void connect() {
    conn_ = xmpp_conn_new(ctx_);
    disconnected_ = false;
    online_ = false;
    // No stream management: its resumption state would not survive the process, and
    // a hibernating session on the server would hold residents' messages away from
    // the next instance. Without it, the server's offline storage keeps what arrives
    // while no instance is logged in.
    long flags = XMPP_CONN_FLAG_DISABLE_SM;
    if (options_.tls == TlsMode::required) flags |= XMPP_CONN_FLAG_MANDATORY_TLS;
    if (options_.tls == TlsMode::off) flags |= XMPP_CONN_FLAG_DISABLE_TLS;
    if (options_.trust_tls) flags |= XMPP_CONN_FLAG_TRUST_TLS;
    xmpp_conn_set_flags(conn_, flags);
    const std::string full = options_.jid + "/" + options_.resource;
    xmpp_conn_set_jid(conn_, full.c_str());
    xmpp_conn_set_pass(conn_, options_.password.c_str());
    xmpp_conn_set_sockopt_callback(conn_, on_socket);
    fd_ = -1;
    sockets()[conn_] = this;
    const int rc = xmpp_connect_client(conn_, options_.host.empty() ? nullptr : options_.host.c_str(),
                                       static_cast<unsigned short>(options_.port), on_conn, this);
    if (rc != XMPP_EOK) {
      log_("xmpp: cannot start connecting to " + where() + " (error " + std::to_string(rc) + ")");
      disconnected_ = true;
      schedule_retry();
    }
  }

  std::string where() const {
    return options_.host.empty() ? options_.jid.substr(options_.jid.find('@') + 1)
                                 : options_.host + ":" + std::to_string(options_.port);
  }

  void schedule_retry() {
    next_attempt_ = SteadyClock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }

  // libstrophe's socket callback has no user data: connections find their link here.
  static std::map<xmpp_conn_t*, Impl*>& sockets() {
    static std::map<xmpp_conn_t*, Impl*> links;
    return links;
  }

  static int on_socket(xmpp_conn_t* conn, void* sock) {
    auto it = sockets().find(conn);
    if (it != sockets().end()) it->second->fd_ = *static_cast<int*>(sock);
    return xmpp_sockopt_cb_keepalive(conn, sock);
  }

  void release() {
    if (!conn_) return;
    sockets().erase(conn_);
    fd_ = -1;
    xmpp_conn_release(conn_);
    conn_ = nullptr;
    online_ = false;
  }

  static void on_conn(xmpp_conn_t* conn, xmpp_conn_event_t event, int error, xmpp_stream_error_t* stream_error,
                      void* userdata) {
    auto* self = static_cast<Impl*>(userdata);
    if (event == XMPP_CONN_CONNECT) {
      self->online_ = true;
      self->backoff_ = kMinBackoff;
      self->log_("xmpp: logged in as " + self->options_.jid + "/" + self->options_.resource);
      xmpp_handler_add(conn, on_stanza, nullptr, "message", nullptr, self);
      // Available, with a positive priority: messages to the bare JID come here, and
      // what waited in offline storage is delivered now.
      xmpp_stanza_t* presence = xmpp_presence_new(self->ctx_);
      xmpp_stanza_t* priority = xmpp_stanza_new(self->ctx_);
      xmpp_stanza_set_name(priority, "priority");
      xmpp_stanza_t* value = xmpp_stanza_new(self->ctx_);
      xmpp_stanza_set_text(value, "1");
      xmpp_stanza_add_child(priority, value);
      xmpp_stanza_release(value);
      xmpp_stanza_add_child(presence, priority);
      xmpp_stanza_release(priority);
      xmpp_send(conn, presence);
      xmpp_stanza_release(presence);
      return;
    }
    if (event == XMPP_CONN_RAW_CONNECT) return;
    const bool was_online = self->online_;
    self->online_ = false;
    self->disconnected_ = true;
    if (stream_error && stream_error->type == XMPP_SE_CONFLICT) {
      self->replaced_ = true;
      self->log_("xmpp: another session logged in as " + self->options_.jid + "/" + self->options_.resource);
    } else if (!self->closing_) {
      self->log_(std::string("xmpp: ") + (was_online ? "lost the connection to " : "cannot log in to ") + self->where() +
                 (error != 0 ? " (error " + std::to_string(error) + ")" : "") + "; trying again");
    }
    self->schedule_retry();
  }

  static int on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
    auto* self = static_cast<Impl*>(userdata);
    const char* type = xmpp_stanza_get_type(stanza);
    if (type && (std::string(type) == "error" || std::string(type) == "groupchat")) return 1;
    const char* from = xmpp_stanza_get_from(stanza);
    char* body = xmpp_message_get_body(stanza);
    if (!from || !body) {
      if (body) xmpp_free(self->ctx_, body);
      return 1;
    }
    char* bare = xmpp_jid_bare(self->ctx_, from);
    std::string from_bare = bare ? bare : from;
    if (bare) xmpp_free(self->ctx_, bare);
    std::string text = body;
    xmpp_free(self->ctx_, body);
    if (from_bare != self->options_.jid) self->on_message_(from_bare, text);
    return 1;  // keep the handler
  }

  Options options_;
  OnMessage on_message_;
  Log log_;
  xmpp_log_t logger_{};
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  int fd_ = -1;
  bool online_ = false;
  bool disconnected_ = false;
  bool closing_ = false;
  bool replaced_ = false;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  SteadyClock::time_point next_attempt_{};
};

XmppLink::XmppLink(Options options, OnMessage on_message, Log log)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(on_message), std::move(log))) {}
XmppLink::~XmppLink() = default;

void XmppLink::run_once(std::chrono::milliseconds timeout) { impl_->run_once(timeout); }
bool XmppLink::online() const { return impl_->online(); }
int XmppLink::fd() const { return impl_->fd(); }
void XmppLink::send(const std::string& to, const std::string& body, const std::string& id) {
  impl_->send(to, body, id);
}
std::size_t XmppLink::queued() const { return impl_->queued(); }
void XmppLink::go_unavailable() { impl_->go_unavailable(); }
void XmppLink::close(std::chrono::milliseconds timeout) { impl_->close(timeout); }
bool XmppLink::replaced() const { return impl_->replaced(); }

}  // namespace xmpp_bridge
