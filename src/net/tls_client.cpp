#include "net/tls_client.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/err.h>

namespace mh::net::detail {

namespace asio = boost::asio;

asio::ssl::context make_client_tls_context() {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(asio::ssl::verify_none);
  return ctx;
}

void set_server_name(TlsStream& stream, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
}

std::string tls_handshake_failure(const std::string& host, const std::string& port,
                                  const boost::beast::error_code& ec) {
  const std::string authority = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  std::string out = "TLS handshake with " + authority + " failed: ";
  if (ec == boost::beast::error::timeout) return out + "timed out";
  if (ec.category() != asio::error::get_ssl_category()) return out + ec.message();
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  out += reason ? reason : ec.message();
  // What OpenSSL says when the answer is plain HTTP (a server without TLS).
  const int why = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (why == SSL_R_WRONG_VERSION_NUMBER || why == SSL_R_PACKET_LENGTH_TOO_LONG)
    out += " (the server does not speak TLS: use http://" + authority + ")";
  return out;
}

}  // namespace mh::net::detail
