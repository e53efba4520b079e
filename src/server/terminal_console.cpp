#include "server/terminal_console.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mh::server {
namespace {

// The terminal both the console and the log write to. Everything is written with write(2) under
// one mutex, so a log line from a worker thread and the console's echo never interleave.
struct Terminal {
  std::mutex mutex;
  bool prompting = false;     // the console edits its line on this terminal
  bool prompt_shown = false;  // the prompt is on the screen (not while a command runs)
  std::string typed;          // what the operator has typed of the current line
  termios saved{};
  bool raw = false;
};

Terminal& terminal() {
  static Terminal t;
  return t;
}

void put(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void restore_terminal() {
  Terminal& t = terminal();
  std::lock_guard lock(t.mutex);
  if (t.raw) ::tcsetattr(0, TCSANOW, &t.saved);
  t.raw = false;
  t.prompting = false;
  t.prompt_shown = false;
}

void redraw(const Terminal& t) { put(1, std::string(kConsolePrompt) + t.typed); }

// Line editing: printable bytes (UTF-8 included) are kept and echoed, Backspace removes the last
// character, Ctrl-U the line; escape sequences (arrow keys) are dropped whole. Returns false at the
// end of input.
bool read_line(std::string& line) {
  Terminal& t = terminal();
  enum { text, escape, csi } state = text;
  for (;;) {
    unsigned char c = 0;
    if (::read(0, &c, 1) != 1) return false;
    std::lock_guard lock(t.mutex);
    if (state == escape) {
      state = c == '[' || c == 'O' ? csi : text;
      continue;
    }
    if (state == csi) {
      if (c >= 0x40 && c <= 0x7e) state = text;
      continue;
    }
    if (c == '\r' || c == '\n') {
      put(1, "\n");
      t.prompt_shown = false;  // what the command logs goes out as it is; its answer brings the prompt back
      line = std::move(t.typed);
      t.typed.clear();
      return true;
    }
    if (c == 0x04 && t.typed.empty()) return false;  // Ctrl-D
    if (c == 0x1b) {
      state = escape;
    } else if (c == 0x7f || c == 0x08) {
      if (t.typed.empty()) continue;
      while (!t.typed.empty() && (static_cast<unsigned char>(t.typed.back()) & 0xc0) == 0x80) t.typed.pop_back();
      t.typed.pop_back();
      put(1, "\b \b");
    } else if (c == 0x15) {
      t.typed.clear();
      put(1, "\r\x1b[K");
      redraw(t);
    } else if (c >= 0x20) {
      t.typed.push_back(static_cast<char>(c));
      put(1, std::string_view(reinterpret_cast<const char*>(&c), 1));
    }
  }
}

void show(const std::string& text, bool prompt) {
  Terminal& t = terminal();
  std::lock_guard lock(t.mutex);
  put(1, text);
  if (prompt) redraw(t);
  t.prompt_shown = prompt;
}

// The level's colour on a terminal, as spdlog's colour sinks had it.
std::string_view colour(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::info: return "\x1b[32m";
    case spdlog::level::warn: return "\x1b[33m\x1b[1m";
    case spdlog::level::err: return "\x1b[31m\x1b[1m";
    case spdlog::level::critical: return "\x1b[1m\x1b[41m";
    default: return "\x1b[36m";
  }
}

class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string line(formatted.data(), formatted.size());
    const bool tty = ::isatty(2);
    if (tty && msg.color_range_end > msg.color_range_start && msg.color_range_end <= line.size()) {
      line.insert(msg.color_range_end, "\x1b[m");
      line.insert(msg.color_range_start, colour(msg.level));
    }
    Terminal& t = terminal();
    std::lock_guard lock(t.mutex);
    // Only when the log shares the console's terminal does the prompt line need clearing.
    const bool around = t.prompt_shown && tty;
    if (around) put(1, "\r\x1b[K");
    put(2, line);
    if (around) redraw(t);
  }
  void flush_() override {}
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> console_log_sink() { return std::make_shared<ConsoleSink>(); }

void start_terminal_console(OperatorConsole& console) {
  if (!::isatty(0)) return;
  Terminal& t = terminal();
  const bool edit = ::isatty(1) && ::tcgetattr(0, &t.saved) == 0;
  if (edit) {
    termios raw = t.saved;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));  // ISIG stays: Ctrl-C still stops the server
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    std::lock_guard lock(t.mutex);
    t.raw = ::tcsetattr(0, TCSANOW, &raw) == 0;
    std::atexit(restore_terminal);
  }
  std::thread([&console, edit] {
    Terminal& t = terminal();
    {
      std::lock_guard lock(t.mutex);
      t.prompting = edit && t.raw;
    }
    show("operator console: /help for commands\n", t.prompting);
    std::string line;
    while (!console.stopping() && (t.prompting ? read_line(line) : static_cast<bool>(std::getline(std::cin, line)))) {
      std::string text;
      try {
        text = console.execute(line).text;
      } catch (const std::exception& e) {  // e.g. the ban list could not be written
        text = std::string(e.what()) + "\n";
      }
      show(text, t.prompting && !console.stopping());
    }
    if (t.prompting && !console.stopping()) show("\n", false);  // Ctrl-D: leave the prompt's line
    restore_terminal();
  }).detach();
}

}  // namespace mh::server
