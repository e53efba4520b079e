#pragma once
// Internal to src/net: the client side of TLS (https://), shared by http_client.cpp and
// websocket_client.cpp; nothing outside src/net includes this header.
//
// The certificate is not verified, by design (docs/PROTOCOL.md §1.1): minihttps authenticates the
// server by its pinned Ed25519 key inside the protocol, and everything it sends is sealed under
// the session, so a certificate adds nothing the pin does not already give, and a self-signed
// one (minihttpsd --tls-self-signed) must work without a CA.
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "net/tls_stream.hpp"

#include <string>

namespace mh::net::detail {

// TLS 1.2 or 1.3, OpenSSL's default ciphers, no certificate verification (see above).
boost::asio::ssl::context make_client_tls_context();

// Sends `host` as the server name (SNI) unless it is an IP address, as RFC 6066 §3 asks.
void set_server_name(TlsStream& stream, const std::string& host);

// "TLS handshake with HOST:PORT failed: REASON", with a hint when the peer is not speaking TLS.
std::string tls_handshake_failure(const std::string& host, const std::string& port, const boost::beast::error_code& ec);

}  // namespace mh::net::detail
