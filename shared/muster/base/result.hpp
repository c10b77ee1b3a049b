// Errors as values. Every fallible operation of the pure core returns Result<T>;
// the error codes map one-to-one onto the protocol's ack error codes (SPEC §4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace muster {

enum class Errc {
  invalid,      // malformed or semantically wrong request
  forbidden,    // the actor's roles or areas do not allow it
  conflict,     // the object's current state does not allow it (e.g. already claimed)
  not_found,    // no such object, or not visible to the actor
  unavailable,  // transient: storage or a peer failed; retry later
  rate_limited, // over the user's budget: nothing done; retry after Error::retry_after_ms
};

std::string_view to_string(Errc code);
// Parses a protocol error code; unknown text maps to Errc::invalid.
Errc errc_from_string(std::string_view text);

struct Error {
  Errc code = Errc::invalid;
  std::string message;
  std::int64_t retry_after_ms = 0;  // rate_limited: how long to wait before trying again
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message), 0}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}     // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};

// Result of an operation that yields nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  static Status success() { return {}; }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace muster
