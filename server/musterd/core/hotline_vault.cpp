#include "musterd/core/hotline_vault.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace musterd {

using muster::Errc;
using muster::make_error;

namespace {

void init_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string hotline_key_path(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "hotline.key").string();
}

muster::Result<bool> create_hotline_key(const std::string& path) {
  init_sodium();
  Fd file{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) {
    if (errno == EEXIST) return false;
    return make_error(Errc::unavailable, "cannot create " + path + ": " + std::strerror(errno));
  }
  // The umask can only take bits away from 0600; this makes sure of the rest.
  if (::fchmod(file.fd, 0600) != 0) {
    return make_error(Errc::unavailable, "cannot set the mode of " + path + ": " + std::strerror(errno));
  }
  unsigned char key[HotlineVault::kKeyBytes];
  randombytes_buf(key, sizeof key);
  std::size_t written = 0;
  while (written < sizeof key) {
    const ssize_t n = ::write(file.fd, key + written, sizeof key - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sodium_memzero(key, sizeof key);
      ::unlink(path.c_str());
      return make_error(Errc::unavailable, "cannot write " + path + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  sodium_memzero(key, sizeof key);
  if (::fsync(file.fd) != 0) {
    ::unlink(path.c_str());
    return make_error(Errc::unavailable, "cannot write " + path + ": " + std::strerror(errno));
  }
  return true;
}

muster::Result<HotlineVault> HotlineVault::load(const std::string& path) {
  init_sodium();
  // Opened first and checked through the descriptor, so what is checked is what is read.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (file.fd < 0) {
    if (errno == ENOENT) return make_error(Errc::not_found, path + " does not exist");
    return make_error(Errc::unavailable, "cannot read " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    return make_error(Errc::unavailable, "cannot read " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return make_error(Errc::invalid, path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return make_error(Errc::forbidden, path + " has mode " + octal_mode(st.st_mode) +
                                           ", which lets other users of this machine read or change the hotline "
                                           "key; only its owner may have access. Fix it with: chmod 600 " + path);
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    return make_error(Errc::invalid, path + " holds " + std::to_string(st.st_size) + " bytes; a hotline key is " +
                                         std::to_string(kKeyBytes) + " random bytes");
  }
  HotlineVault vault;
  std::size_t got = 0;
  while (got < kKeyBytes) {
    const ssize_t n = ::read(file.fd, vault.key_.data() + got, kKeyBytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::unavailable, "cannot read " + path);
    got += static_cast<std::size_t>(n);
  }
  return vault;
}

HotlineVault HotlineVault::from_key(std::string_view key) {
  init_sodium();
  if (key.size() != kKeyBytes) throw std::invalid_argument("a hotline key is 32 bytes");
  HotlineVault vault;
  std::memcpy(vault.key_.data(), key.data(), kKeyBytes);
  return vault;
}

HotlineVault::~HotlineVault() { sodium_memzero(key_.data(), key_.size()); }

SealedNote HotlineVault::seal(std::string_view text) const {
  SealedNote out;
  out.nonce.resize(crypto_secretbox_NONCEBYTES);
  randombytes_buf(out.nonce.data(), out.nonce.size());
  out.box.resize(crypto_secretbox_MACBYTES + text.size());
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(out.box.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                        reinterpret_cast<const unsigned char*>(out.nonce.data()), key_.data());
  return out;
}

std::optional<std::string> HotlineVault::open(const SealedNote& sealed) const {
  if (sealed.nonce.size() != crypto_secretbox_NONCEBYTES || sealed.box.size() < crypto_secretbox_MACBYTES) {
    return std::nullopt;
  }
  std::string text(sealed.box.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(text.data()),
                                 reinterpret_cast<const unsigned char*>(sealed.box.data()), sealed.box.size(),
                                 reinterpret_cast<const unsigned char*>(sealed.nonce.data()), key_.data()) != 0) {
    return std::nullopt;
  }
  return text;
}

}  // namespace musterd
