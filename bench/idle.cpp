// bench_idle: opens COUNT keep-alive connections to HOST:PORT, makes one small request on each
// (GET /.well-known/minihttps), reads the answer, and keeps them all open and idle until stdin
// closes. Prints "ready N" once they are all established, for the driver to measure the server.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_idle HOST PORT COUNT\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const int count = std::atoi(argv[3]);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  const std::string req = std::string("GET /.well-known/minihttps HTTP/1.1\r\nHost: ") + argv[1] + "\r\n\r\n";
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::fprintf(stderr, "bench_idle: connection %d: %s\n", i, std::strerror(errno));
      return 1;
    }
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return 1;
    fds.push_back(fd);
  }
  // Read every answer (one small response each) so the connections are idle keep-alive ones.
  char buf[4096];
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0 || read(fd, buf, sizeof buf) <= 0) {
      std::fprintf(stderr, "bench_idle: no answer on a connection\n");
      return 1;
    }
  }
  std::printf("ready %zu\n", fds.size());
  std::fflush(stdout);
  while (read(0, buf, sizeof buf) > 0) {}
  for (int fd : fds) close(fd);
  return 0;
}
