#include "muster_client/transports/tls.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>

namespace muster::client {

Result<std::shared_ptr<asio::ssl::context>> make_client_tls(const std::string& host, const std::string& ca_file,
                                                            std::shared_ptr<TlsVerdict> verdict) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  std::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ERR_clear_error();
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      const unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      const char* reason = e ? ERR_reason_error_string(e) : nullptr;
      return make_error(Errc::invalid, "cannot read the CA file " + ca_file + ": " +
                                           (reason ? std::string(reason) : ec.message()) + " (PEM certificates)");
    }
  }
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  ctx->set_verify_callback(
      [verdict, host, check = asio::ssl::host_name_verification(host)](bool preverified,
                                                                        asio::ssl::verify_context& vc) mutable {
        if (!preverified) {
          const int err = X509_STORE_CTX_get_error(vc.native_handle());
          if (verdict->problem.empty()) {
            verdict->problem = std::string("certificate verify failed: ") + X509_verify_cert_error_string(err);
          }
          return false;
        }
        if (!check(preverified, vc)) {
          if (verdict->problem.empty()) {
            verdict->problem = "certificate verify failed: hostname mismatch (the certificate is not for " + host + ")";
          }
          return false;
        }
        return true;
      },
      ec);
  return ctx;
}

std::string tls_problem(const std::string& host, const std::string& port, const std::string& ca_file,
                        std::chrono::milliseconds timeout) {
  auto verdict = std::make_shared<TlsVerdict>();
  auto ctx = make_client_tls(host, ca_file, verdict);
  if (!ctx) return ctx.error().message;
  asio::io_context io;
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, **ctx);
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
  // SNI, as SSL_set_tlsext_host_name does (a macro with a C cast).
  SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(bare.c_str()));
  asio::ip::tcp::resolver resolver(io);
  std::error_code failed;
  asio::async_connect(stream.lowest_layer(), resolver.resolve(bare, port, failed),
                      [&](const std::error_code& ec, const asio::ip::tcp::endpoint&) {
                        if (ec) {
                          failed = ec;
                          return;
                        }
                        stream.async_handshake(asio::ssl::stream_base::client,
                                               [&](const std::error_code& hs) { failed = hs; });
                      });
  io.run_for(timeout);
  return verdict->problem;
}

}  // namespace muster::client
