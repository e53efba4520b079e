#pragma once
// Internal to src/net: the stream TLS connections are carried on, both sides.
//
// Asio's own ssl::stream, not Beast's ssl_stream wrapper: in Boost 1.81 the wrapper's buffer
// flattening writes nothing, and reports success, for a buffer sequence whose first buffer is empty
// and whose next is over 16 KiB, which asio::async_write passes it once a short first buffer went
// out alone (a response head before a larger body, a WebSocket frame header before its payload).
// Asio's stream linearises small sequences itself and is movable, which the WebSocket upgrade needs.
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace mh::net::detail {

using TlsStream = boost::asio::ssl::stream<boost::beast::tcp_stream>;

}  // namespace mh::net::detail
