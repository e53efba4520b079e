// minihttpsd — placeholder until the auth and web parts land: it validates its options,
// reports what it would serve, and waits for SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:8443", root = "www", keys = "keys";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--listen" || a == "--root" || a == "--keys") && i + 1 < argc) {
      (a == "--listen" ? listen : a == "--root" ? root : keys) = argv[++i];
    } else {
      std::fprintf(stderr, "minihttpsd: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::printf("minihttpsd (placeholder): would serve %s on %s with keys in %s\n", root.c_str(), listen.c_str(),
              keys.c_str());
  std::printf("press Ctrl-C (or send SIGTERM) to stop\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  std::printf("minihttpsd: stopped by %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}
