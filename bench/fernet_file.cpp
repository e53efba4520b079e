// bench_fernet_file FILE RUNS: encrypts the whole of FILE into one Fernet token RUNS times with
// the core's fernet_encrypt and prints the seconds of each run, one per line. bench/peer.py runs
// it next to Python cryptography's Fernet.encrypt of the same file, on the same core, each after
// a warm-up run, so that the two compare the same work (one token of the file, already in memory).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "core/fernet.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_fernet_file FILE RUNS\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int runs = std::atoi(argv[2]);
  if (!in.is_open() || file.empty() || runs < 1) {
    std::fprintf(stderr, "bench_fernet_file: cannot read %s, or RUNS is not a positive number\n", argv[1]);
    return 2;
  }
  const mh::ByteView plain(reinterpret_cast<const std::uint8_t*>(file.data()), file.size());
  const auto key = mh::FernetKey::generate();
  std::size_t sink = mh::fernet_encrypt(key, plain, 1700000000).size();  // warm-up: page faults, caches
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    sink += mh::fernet_encrypt(key, plain, 1700000000).size();
    const std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
    std::printf("%.6f\n", t.count());
  }
  return sink == 0;  // keeps the work observable
}
