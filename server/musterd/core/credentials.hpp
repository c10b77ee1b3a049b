// Password hashes (argon2id via libsodium) and device tokens.
// Thread-safe: pure functions over libsodium, which is initialised on first use.
#pragma once

#include <string>
#include <string_view>

namespace musterd {

// argon2id hash in libsodium's self-describing string format. Slow on purpose
// (interactive limits: ~64 MiB, a fraction of a second): never call it on the loop.
std::string hash_password(std::string_view password);
bool verify_password(std::string_view password, const std::string& hash);

// The same password in Mosquitto's password-file format ("$7$101$salt$hash":
// PBKDF2-HMAC-SHA512, 101 rounds, as mosquitto_passwd writes it), so every muster user
// can log in to the broker with its own name and password.
std::string broker_password_hash(std::string_view password);

// A fresh random device token ("mt_" + 64 hex digits) and the digest the server
// stores in its place, so a copy of the database does not hand out live tokens.
std::string new_token();
std::string token_digest(std::string_view token);

}  // namespace musterd
