#pragma once
// What `get` refuses before it writes a byte: a directory (the server answers one with its
// listing, which is no file to save), and binary bytes headed for a terminal (as curl refuses
// them: they can leave it unusable). And the reader of stdout going away (`get x | head -c1`),
// which ends the command quietly.
#include <string>
#include <string_view>

#include "client/sealed_answer.hpp"
#include "core/bytes.hpp"
#include "core/error.hpp"

namespace mh::client {

// The answer named a directory: raised from the answer's head, before any output is opened, and
// turned into directory_error() by the command, which knows the path the user typed.
class IsDirectory : public Error {
 public:
  IsDirectory() : Error(Errc::bad_request, "a directory") {}
};

// The process's output was closed by its reader (EPIPE): the command ends with exit 0 and says
// nothing, as `cat` and `curl` do in a pipeline.
class OutputClosed : public Error {
 public:
  OutputClosed() : Error(Errc::io, "output closed by its reader") {}
};

// "docs/ is a directory: fetch it with `minihttps get -r docs/` or list it with `minihttps ls docs/`"
// (exit 1: the server did not fail, the command asked for the wrong kind of thing).
Error directory_error(std::string_view user_path);

// A 200 answer to GET TARGET that is a listing: the server answers a directory with JSON, so a
// JSON answer for a name that is not *.json is one (a directory named *.json is not caught).
// Throws IsDirectory. A directory with an index.html answers that page, and is not refused: the
// same as a browser shows it.
void refuse_listing(const Answer& a, std::string_view target);

// NUL bytes or invalid UTF-8 among the first 4 KiB (a sequence cut by the end does not count).
bool looks_binary(ByteView first_bytes);

// For the first bytes written to a terminal without -o -: Errc::bad_request (exit 1) when they
// look binary.
void refuse_binary_on_terminal(ByteView first_bytes);

}  // namespace mh::client
