// The hotline's key file and the sealing of notes (server/musterd/hotline_vault.hpp):
// the key is made once with mode 0600 and never replaced; a key file the group or others
// may touch is refused with a message that names the file, its mode and the fix; sealed
// notes open only under their key, unaltered.
#include "musterd/core/hotline_vault.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "engine_fixture.hpp"

using engine_fixture::TempDir;
using musterd::create_hotline_key;
using musterd::hotline_key_path;
using musterd::HotlineVault;
using musterd::SealedNote;

namespace {

const std::string kNotes = "来电者说他三天没有睡觉，担心失业，想和女儿说话。";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Runs with a umask that would let everyone read a new file, and puts the old one back.
struct OpenUmask {
  mode_t old = ::umask(0);
  ~OpenUmask() { ::umask(old); }
};

}  // namespace

TEST_SUITE("hotline_vault") {
  TEST_CASE("the key file is made once, 32 random bytes with mode 0600, even under umask 0") {
    TempDir dir;
    const std::string path = hotline_key_path(dir.path());
    CHECK(path == dir.path() + "/hotline.key");
    OpenUmask open_umask;
    auto made = create_hotline_key(path);
    REQUIRE(made.ok());
    CHECK(*made);
    CHECK(mode_of(path) == 0600);
    const std::string key = read_all(path);
    CHECK(key.size() == 32);
    CHECK(key != std::string(32, '\0'));

    // Never replaced: notes sealed under it would be lost.
    auto again = create_hotline_key(path);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
    CHECK(read_all(path) == key);

    // A second data dir gets a different key.
    TempDir other;
    REQUIRE(create_hotline_key(hotline_key_path(other.path())).ok());
    CHECK(read_all(hotline_key_path(other.path())) != key);

    auto vault = HotlineVault::load(path);
    REQUIRE_MESSAGE(vault.ok(), (vault.ok() ? "" : vault.error().message));
  }

  TEST_CASE("a key file the group or others may read or write is refused, naming the file, its mode and the fix") {
    TempDir dir;
    const std::string path = hotline_key_path(dir.path());
    REQUIRE(create_hotline_key(path).ok());
    for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0620, 0601, 0610, 0666}) {
      CAPTURE(mode);
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      auto vault = HotlineVault::load(path);
      REQUIRE_FALSE(vault.ok());
      CHECK(vault.error().code == muster::Errc::forbidden);
      const std::string& message = vault.error().message;
      CHECK(message.find(path) != std::string::npos);
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
      CHECK(message.find(octal) != std::string::npos);
      CHECK(message.find("chmod 600 " + path) != std::string::npos);
    }
    for (mode_t mode : {0600, 0400, 0700}) {
      CAPTURE(mode);
      REQUIRE(::chmod(path.c_str(), mode) == 0);
      CHECK(HotlineVault::load(path).ok());
    }
  }

  TEST_CASE("a missing, short, long or odd key file is refused") {
    TempDir dir;
    const std::string path = hotline_key_path(dir.path());
    auto missing = HotlineVault::load(path);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == muster::Errc::not_found);

    for (std::size_t size : {std::size_t{0}, std::size_t{16}, std::size_t{31}, std::size_t{33}, std::size_t{64}}) {
      CAPTURE(size);
      {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << std::string(size, 'k');
      }
      REQUIRE(::chmod(path.c_str(), 0600) == 0);
      auto vault = HotlineVault::load(path);
      REQUIRE_FALSE(vault.ok());
      CHECK(vault.error().code == muster::Errc::invalid);
      CHECK(vault.error().message.find("32") != std::string::npos);
    }
    std::filesystem::remove(path);

    std::filesystem::create_directory(path);
    ::chmod(path.c_str(), 0700);
    auto directory = HotlineVault::load(path);
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error().code == muster::Errc::invalid);
    std::filesystem::remove(path);

    // A symbolic link is not followed: whoever can replace it could point it anywhere.
    const std::string real = dir.path() + "/real.key";
    REQUIRE(create_hotline_key(real).ok());
    std::filesystem::create_symlink(real, path);
    const std::string key = read_all(real);
    CHECK_FALSE(HotlineVault::load(path).ok());
    auto made = create_hotline_key(path);  // nor written through: it counts as there
    REQUIRE(made.ok());
    CHECK_FALSE(*made);
    CHECK(read_all(real) == key);
  }

  TEST_CASE("sealed notes open under their key only, unaltered, with a fresh nonce each time") {
    const HotlineVault vault = HotlineVault::from_key(std::string(32, 'A'));
    const SealedNote sealed = vault.seal(kNotes);
    CHECK(sealed.nonce.size() == 24);
    CHECK(sealed.box.size() == kNotes.size() + 16);
    CHECK(sealed.box.find(kNotes) == std::string::npos);
    CHECK(sealed.box.find("三天") == std::string::npos);
    auto opened = vault.open(sealed);
    REQUIRE(opened.has_value());
    CHECK(*opened == kNotes);

    const SealedNote again = vault.seal(kNotes);
    CHECK(again.nonce != sealed.nonce);
    CHECK(again.box != sealed.box);

    // Another key; a flipped bit in the box or the nonce; malformed sizes.
    CHECK_FALSE(HotlineVault::from_key(std::string(32, 'B')).open(sealed).has_value());
    SealedNote tampered = sealed;
    tampered.box[5] = static_cast<char>(tampered.box[5] ^ 1);
    CHECK_FALSE(vault.open(tampered).has_value());
    tampered = sealed;
    tampered.nonce[0] = static_cast<char>(tampered.nonce[0] ^ 1);
    CHECK_FALSE(vault.open(tampered).has_value());
    CHECK_FALSE(vault.open(SealedNote{sealed.nonce.substr(1), sealed.box}).has_value());
    CHECK_FALSE(vault.open(SealedNote{sealed.nonce, sealed.box.substr(0, 15)}).has_value());

    // Empty text works too.
    auto empty = vault.open(vault.seal(""));
    REQUIRE(empty.has_value());
    CHECK(empty->empty());

    CHECK_THROWS_AS(HotlineVault::from_key("short"), std::invalid_argument);
  }

  TEST_CASE("a vault loaded from the file seals what a vault of the same key opens") {
    TempDir dir;
    const std::string path = hotline_key_path(dir.path());
    REQUIRE(create_hotline_key(path).ok());
    auto loaded = HotlineVault::load(path);
    REQUIRE(loaded.ok());
    const HotlineVault same = HotlineVault::from_key(read_all(path));
    auto opened = same.open(loaded->seal(kNotes));
    REQUIRE(opened.has_value());
    CHECK(*opened == kNotes);
  }
}
