// What a transport gives a Subscriber: a way to send frames to one peer and to say how
// much of what was sent the peer has not taken yet. Each adapter implements it once:
// a WebSocket connection, a user's MQTT topics, a plugin's stdin.
//
// Thread: the server's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace musterd {

// What a frame is, for transports that route or hold frames by it (MQTT holds an ack
// back until the op's events are handed to the broker).
enum class FrameKind { event, ack, reply };

// Why the core ends a session. The adapter maps it to its own close (WebSocket close
// codes; a no-op where there is no connection to close).
enum class CloseReason {
  bad_hello,          // unsupported version, no device, no credentials      (1008)
  auth_failed,        // wrong password or token, unknown or disabled user  (1008)
  disabled,           // the user was disabled while connected               (1008)
  storage,            // the log could not be read or written                (1013)
  rate_limited,       // too many failed logins, or the server busy          (1013)
  crowded,            // too many connections waiting to log in; shed        (1013)
  stopping,           // the server is stopping                              (1001)
};

class SessionPort {
 public:
  virtual ~SessionPort() = default;

  // Sends one frame (a JSON object's text) to the peer.
  virtual void send(FrameKind kind, const std::string& frame) = 0;
  // Bytes given to send() that the peer has not taken yet (the send buffer).
  virtual std::size_t backlog() const = 0;
  // The subscriber stopped sending because backlog() was over its window: call
  // Subscriber::pump() once the backlog has gone down.
  virtual void resume_when_drained() = 0;
  // Ends the session; the port must not call the subscriber afterwards except to
  // destroy it.
  virtual void close(CloseReason reason, const std::string& text) = 0;
  // The session has a user now (before its welcome is sent): a transport that limits
  // connections waiting to log in stops counting this one.
  virtual void logged_in() {}
  // The highest seq of `scope` handed to this peer outside the session, where live
  // events travel another way (MQTT: through the broker's event topics). Receipts may
  // go as far as this.
  virtual std::int64_t delivered_elsewhere(const std::string& scope) const {
    (void)scope;
    return 0;
  }
};

}  // namespace musterd
