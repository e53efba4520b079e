#pragma once
// Every path minihttpsd answers and the part that answers it, in one table: the router
// (src/server/router.cpp) sends the public ones to the auth service (the page's files to the page)
// and everything else to the web
// part, which dispatches on the same table (src/web/web_service.cpp). The paths are wire protocol
// (docs/PROTOCOL.md); the sealed path, an envelope rather than a route, is seal::kSealedPath.
#include <array>
#include <string_view>

namespace mh::routes {

inline constexpr std::string_view kWellKnown = "/.well-known/minihttps";
inline constexpr std::string_view kHandshake = "/auth/handshake";
inline constexpr std::string_view kLogout = "/auth/logout";
inline constexpr std::string_view kChat = "/chat";
// The unsigned WebSocket upgrade that spends a chat ticket (a browser cannot sign an upgrade).
inline constexpr std::string_view kTicketedChat = "/.well-known/minihttps/chat";
// The private upload area: a dot name, which no served file or folder can have (core/path.cpp
// refuses dot segments), so the area never shadows a served folder. And everything below it.
inline constexpr std::string_view kUploads = "/.uploads";
// The browser client's files (docs/PROTOCOL.md §2.1): public, and a dot name too, so no served file
// or folder can shadow it.
inline constexpr std::string_view kApp = "/.app";

// WWW-Authenticate of every 401: where to handshake (docs/PROTOCOL.md).
inline constexpr std::string_view kHandshakeChallenge = "MiniHTTPS handshake=\"/auth/handshake\"";

enum class Route {
  well_known,     // public: the server's description (auth)
  handshake,      // public: POST, the handshake (auth)
  logout,         // signed: POST, ends the session (web)
  chat,           // signed: GET with a WebSocket upgrade, or POST for a ticket (web, chat hub)
  ticketed_chat,  // public: GET with a WebSocket upgrade and ?ticket= (web, chat hub)
  uploads,        // signed: the client's private upload area (web, upload service)
  app,            // public: GET, the browser client's files (server, web/app_page)
  files,          // signed: anything else is a path below the served folder (web, file service)
};

struct Entry {
  std::string_view path;
  bool subtree;  // also every path below path + "/"
  Route route;
};

inline constexpr std::array<Entry, 7> kTable{{
    {kWellKnown, false, Route::well_known},
    {kTicketedChat, false, Route::ticketed_chat},
    {kHandshake, false, Route::handshake},
    {kLogout, false, Route::logout},
    {kChat, false, Route::chat},
    {kUploads, true, Route::uploads},
    {kApp, true, Route::app},
}};

// The route of a request path (the target without its query).
constexpr Route route_of(std::string_view path) noexcept {
  for (const Entry& e : kTable) {
    if (path == e.path) return e.route;
    if (e.subtree && path.size() > e.path.size() && path.substr(0, e.path.size()) == e.path &&
        path[e.path.size()] == '/')
      return e.route;
  }
  return Route::files;
}

// A request target without its query.
constexpr std::string_view path_of(std::string_view target) noexcept { return target.substr(0, target.find('?')); }

}  // namespace mh::routes
