#include "xmpp_resident.hpp"

#include <strophe.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace muster::testing {

// ---------------------------------------------------------------- a resident's client

struct XmppResident::Impl {
  std::string jid;
  xmpp_ctx_t* ctx = nullptr;
  xmpp_conn_t* conn = nullptr;
  std::thread thread;
  std::atomic<bool> stop{false};
  mutable std::mutex mutex;
  std::condition_variable cv;
  bool online = false;
  bool failed = false;
  std::vector<std::string> heard;
  std::deque<std::pair<std::string, std::string>> outgoing;

  static void on_conn(xmpp_conn_t* c, xmpp_conn_event_t event, int, xmpp_stream_error_t*, void* userdata) {
    auto* self = static_cast<Impl*>(userdata);
    std::lock_guard<std::mutex> lock(self->mutex);
    if (event == XMPP_CONN_CONNECT) {
      xmpp_handler_add(c, on_message, nullptr, "message", nullptr, self);
      xmpp_stanza_t* presence = xmpp_presence_new(self->ctx);
      xmpp_send(c, presence);
      xmpp_stanza_release(presence);
      self->online = true;
    } else if (event != XMPP_CONN_RAW_CONNECT) {
      self->online = false;
      self->failed = true;
    }
    self->cv.notify_all();
  }

  static int on_message(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
    auto* self = static_cast<Impl*>(userdata);
    const char* type = xmpp_stanza_get_type(stanza);
    if (type && std::string(type) == "error") return 1;
    char* body = xmpp_message_get_body(stanza);
    if (!body) return 1;
    {
      std::lock_guard<std::mutex> lock(self->mutex);
      self->heard.emplace_back(body);
    }
    xmpp_free(self->ctx, body);
    self->cv.notify_all();
    return 1;
  }

  void loop() {
    while (!stop) {
      std::deque<std::pair<std::string, std::string>> out;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (online) out.swap(outgoing);
      }
      for (const auto& [to, text] : out) {
        xmpp_stanza_t* msg = xmpp_message_new(ctx, "chat", to.c_str(), nullptr);
        xmpp_message_set_body(msg, text.c_str());
        xmpp_send(conn, msg);
        xmpp_stanza_release(msg);
      }
      xmpp_run_once(ctx, 20);
    }
    if (xmpp_conn_is_connected(conn)) {
      xmpp_disconnect(conn);
      for (int i = 0; i < 50 && !xmpp_conn_is_disconnected(conn); ++i) xmpp_run_once(ctx, 20);
    }
  }
};

XmppResident::XmppResident(int port, const std::string& jid, const std::string& password)
    : impl_(std::make_unique<Impl>()) {
  xmpp_initialize();
  impl_->jid = jid;
  impl_->ctx = xmpp_ctx_new(nullptr, nullptr);
  impl_->conn = xmpp_conn_new(impl_->ctx);
  xmpp_conn_set_flags(impl_->conn, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
  const std::string full = jid + "/resident";
  xmpp_conn_set_jid(impl_->conn, full.c_str());
  xmpp_conn_set_pass(impl_->conn, password.c_str());
  if (xmpp_connect_client(impl_->conn, "127.0.0.1", static_cast<unsigned short>(port), Impl::on_conn, impl_.get()) !=
      XMPP_EOK) {
    throw std::runtime_error("cannot start connecting " + jid);
  }
  impl_->thread = std::thread([this] { impl_->loop(); });
  std::unique_lock<std::mutex> lock(impl_->mutex);
  if (!impl_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return impl_->online || impl_->failed; }) ||
      !impl_->online) {
    lock.unlock();
    impl_->stop = true;
    impl_->thread.join();
    throw std::runtime_error(jid + " could not log in to prosody on port " + std::to_string(port));
  }
}

XmppResident::~XmppResident() {
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
  xmpp_conn_release(impl_->conn);
  xmpp_ctx_free(impl_->ctx);
  // No xmpp_shutdown(): other clients of the test may still be running.
}

void XmppResident::say(const std::string& to, const std::string& text) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->outgoing.emplace_back(to, text);
}

std::vector<std::string> XmppResident::heard() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->heard;
}

bool XmppResident::wait_for(const std::function<bool(const std::vector<std::string>&)>& pred,
                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->heard); });
}

bool XmppResident::wait_count(std::size_t n, std::chrono::milliseconds timeout) {
  return wait_for([n](const std::vector<std::string>& h) { return h.size() >= n; }, timeout);
}

}  // namespace muster::testing
