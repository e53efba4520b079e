#pragma once
// The operator console on a terminal, sharing it with the log. The console edits its line itself
// (the terminal's echo is off while it runs), so it always knows the prompt and what the operator
// has typed so far: a log line is written over the cleared prompt line and the prompt and the
// half-typed command are drawn again below it. Log lines never land in the middle of a command.
#include <spdlog/sinks/sink.h>

#include <memory>

#include "server/operator_console.hpp"

namespace mh::server {

inline constexpr const char* kConsolePrompt = "minihttpsd> ";

// The sink of the server's log: stderr, around the console's prompt when there is one.
std::shared_ptr<spdlog::sinks::sink> console_log_sink();

// Reads commands from stdin when it is a terminal, on a thread of its own; the terminal's mode is
// restored when the process exits (or the operator ends the input with Ctrl-D).
void start_terminal_console(OperatorConsole& console);

}  // namespace mh::server
