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
// answer. Returns the exit code (0 ok, 1 no server there, 2 usage).
int run_ctl(int argc, char** argv);

}  // namespace mh::server
