// The hotline's notes at rest (SPEC §3 Hotline): sealed with libsodium's secretbox
// (XSalsa20-Poly1305) under a 32-byte key kept in DATA/hotline.key, a fresh random nonce
// per note. Only the server holds the key; log.db holds nonce and box, never the text.
//
// The key file is created once (`musterd init`, or `musterd serve` for a data dir made
// before the hotline existed) with mode 0600, and is refused if its mode lets the group
// or others in at all: a key anyone on the machine can read protects nothing.
//
// Pure apart from reading and creating the key file. Thread-safe once loaded (a vault
// is immutable; libsodium is initialised on first use).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "muster/base/result.hpp"

namespace musterd {

// DIR/hotline.key
std::string hotline_key_path(const std::string& data_dir);

// Creates `path` with 32 random bytes, mode 0600 (open O_CREAT|O_EXCL, so an existing
// key is never replaced). Returns true if it made the file, false if one was already
// there; an error (unavailable) if it could not be written.
muster::Result<bool> create_hotline_key(const std::string& path);

struct SealedNote {
  std::string nonce;  // crypto_secretbox_NONCEBYTES raw bytes
  std::string box;    // crypto_secretbox_MACBYTES + the text's length, raw bytes
};

class HotlineVault {
 public:
  static constexpr std::size_t kKeyBytes = 32;

  // Reads the key from `path`. Errors (forbidden) when the file's mode allows the group or
  // others any access, naming the file, its mode and the fix (chmod 600); (invalid) when it
  // is not a regular file of exactly 32 bytes; (not_found) when it does not exist;
  // (unavailable) when it cannot be read.
  static muster::Result<HotlineVault> load(const std::string& path);
  // A vault over the given key (tests). Throws std::invalid_argument unless it is 32 bytes.
  static HotlineVault from_key(std::string_view key);

  HotlineVault(const HotlineVault&) = default;
  HotlineVault& operator=(const HotlineVault&) = default;
  ~HotlineVault();

  // Seals `text` under the key with a fresh random nonce.
  SealedNote seal(std::string_view text) const;
  // The text, or nullopt if the box was not sealed under this key or was altered.
  std::optional<std::string> open(const SealedNote& sealed) const;

 private:
  HotlineVault() = default;
  std::array<unsigned char, kKeyBytes> key_{};
};

}  // namespace musterd
