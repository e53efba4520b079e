#pragma once
// The control socket behind `minihttpsd ctl`: a Unix-domain socket, mode 0600 in the 0700 keys
// directory, one command line in, the console's answer out.
#include <filesystem>
#include <string>
#include <thread>

#include "server/operator_console.hpp"

namespace mh::server {

class ControlSocket {
 public:
  // Binds `path` (refusing if another server answers there; a stale socket file is replaced).
  ControlSocket(std::filesystem::path path, OperatorConsole& console);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

 private:
  void serve();

  std::filesystem::path path_;
  OperatorConsole& console_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

// `minihttpsd ctl COMMAND...`: sends the command to the server's control socket and prints the
// answer: on stdout when the command did what it says (exit 0), else on stderr with the console's code
// (1 refused: no such client or ban, or no server there; 2 usage: unknown command, missing argument).
int run_ctl(int argc, char** argv);

}  // namespace mh::server
