#include "musterd/core/credentials.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <stdexcept>

namespace musterd {

namespace {
void init_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}
}  // namespace

std::string hash_password(std::string_view password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("out of memory while hashing a password");
  }
  return out;
}

bool verify_password(std::string_view password, const std::string& hash) {
  init_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string broker_password_hash(std::string_view password) {
  init_sodium();
  constexpr int kRounds = 101;  // what mosquitto_passwd 2.0 uses
  unsigned char salt[12];
  randombytes_buf(salt, sizeof salt);
  unsigned char hash[64];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, sizeof salt, kRounds, EVP_sha512(),
                        sizeof hash, hash) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  auto b64 = [](const unsigned char* data, int n) {
    std::string out(static_cast<std::size_t>(4 * ((n + 2) / 3)) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, n);
    out.resize(static_cast<std::size_t>(len));
    return out;
  };
  return "$7$" + std::to_string(kRounds) + "$" + b64(salt, sizeof salt) + "$" + b64(hash, sizeof hash);
}

std::string new_token() {
  init_sodium();
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  return "mt_" + to_hex(raw, sizeof raw);
}

std::string token_digest(std::string_view token) {
  init_sodium();
  unsigned char digest[crypto_generichash_BYTES];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  return to_hex(digest, sizeof digest);
}

}  // namespace musterd
