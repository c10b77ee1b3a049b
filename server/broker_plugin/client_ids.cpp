// muster_broker_ids.so: a Mosquitto 2.0 plugin that binds MQTT client ids to user names,
// which Mosquitto's own password and ACL files cannot do. A user U may connect with the
// client id U or U/<anything> ("wang/laptop-3"); the server's account "musterd" with the
// id "musterd" (or "musterd/..."). Anything else gets CONNACK "not authorised" before
// it can take over a session: nobody knocks the server off the broker or drops another
// user's queued messages by connecting under their id. User names cannot contain '/'
// (domain::valid_user_name), so one user's ids are never another's.
//
// The plugin only refuses; for an id that fits it defers, and Mosquitto then checks the
// password file as before. `musterd broker-config` writes the `plugin` line; the file
// is built next to musterd. Hand-written because Debian ships no Mosquitto plugin that
// ties client ids to user names (dynamic-security would replace the password and ACL
// files musterd keeps in step with its users).
//
// Thread: Mosquitto's (it is single-threaded).
#include <cstring>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

namespace {

mosquitto_plugin_id_t* plugin_id = nullptr;

bool id_belongs_to(const char* client_id, const char* user) {
  const std::size_t n = std::strlen(user);
  return n > 0 && std::strncmp(client_id, user, n) == 0 && (client_id[n] == '\0' || client_id[n] == '/');
}

int on_basic_auth(int, void* event_data, void*) {
  const auto* event = static_cast<const mosquitto_evt_basic_auth*>(event_data);
  const char* client_id = mosquitto_client_id(event->client);
  if (event->username == nullptr || client_id == nullptr || !id_belongs_to(client_id, event->username)) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "muster: refused client id '%s' for user '%s' (ids are USER or USER/...)",
                         client_id ? client_id : "", event->username ? event->username : "");
    return MOSQ_ERR_AUTH;
  }
  return MOSQ_ERR_PLUGIN_DEFER;  // the password file decides
}

}  // namespace

extern "C" {

int mosquitto_plugin_version(int, const int*) { return 5; }

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void**, mosquitto_opt*, int) {
  plugin_id = identifier;
  return mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, nullptr);
}

int mosquitto_plugin_cleanup(void*, mosquitto_opt*, int) {
  return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
}

}  // extern "C"
