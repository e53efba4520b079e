#pragma once
// minihttps chat: the encrypted chat relay (docs/PROTOCOL.md §9, docs/PROTOCOL.md §9) from a
// terminal or a pipe. The upgrade is a sealed request; every frame is sealed under its own key
// and numbered, so a frame replayed, dropped or reordered on the way is refused.
//
// Reads lines from stdin: "/msg NAME text", "/join ROOM", "/rooms", "/who", "/quit", "/help";
// "//text" says "/text"; any other line is said to the room. Prints what arrives on stdout, one
// line each: "[HH:MM:SS] name: text", "[HH:MM:SS] name (private): text", notices
// "[HH:MM:SS] * text"; the server's errors go to stderr. Times are the server's, in local time.
//
// Exit codes: 0 after /quit or the end of input (everything typed was sent and the server
// confirmed the close); 1 the server refused (room full, busy); 3 the connection was lost or the
// server shut down; 4 authentication (no session, 401/403 at the upgrade) or the server closed the
// chat for a policy reason (1008: a frame refused, flooding, kicked, session ended; 1009: a message
// too large), with the server's reason on stderr; 5 the upgrade's answer or a frame from the server
// did not verify ("frame refused: out of sequence or tampered"; the chat is closed with 1008).
#include <string>

#include "client/commands.hpp"

namespace mh::client {

struct ChatOptions {
  std::string room = "lobby";
};

int run_chat(const GlobalOptions& g, const ChatOptions& o);

}  // namespace mh::client
