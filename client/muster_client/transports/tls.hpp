// TLS for the client's transports: one client context per connection, verifying the
// server's chain against --ca FILE (else the system's store) and its host name, TLS
// 1.2 or later. Nothing is pinned and nothing is skipped: a certificate that does not
// verify ends the connection, and tls_problem says why in OpenSSL's words
// ("certificate verify failed: unable to get local issuer certificate").
//
// Thread: the connection's (the caller's).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio/ssl/context.hpp>

#include "muster/base/result.hpp"

namespace muster::client {

struct TlsVerdict {
  std::string problem;  // "" while nothing failed
};

// A context for a connection to `host`. Errc::invalid if `ca_file` (when not empty)
// cannot be read as PEM certificates. `verdict` outlives the context and receives the
// reason a handshake was refused.
Result<std::shared_ptr<asio::ssl::context>> make_client_tls(const std::string& host, const std::string& ca_file,
                                                            std::shared_ptr<TlsVerdict> verdict);

// Makes a TLS handshake with HOST:PORT and reports why the certificate is refused, or
// "" if it is accepted (or the server cannot be reached at all). For transports whose
// library only says "the TLS connection failed" (Paho): asked after such a failure.
std::string tls_problem(const std::string& host, const std::string& port, const std::string& ca_file,
                        std::chrono::milliseconds timeout);

}  // namespace muster::client
