#pragma once
// The client's commands. Each returns the process exit code or throws mh::Error.
#include <optional>
#include <string>
#include <vector>

#include "client/connection.hpp"

namespace mh::client {

struct GlobalOptions {
  std::string home;
  std::string server;
  Verbosity verbosity;
  int timeout_seconds = 30;
};

struct ConnectOptions {
  std::string address;  // HOST:PORT: else --server, else the server remembered
  std::string name;     // else the session's name, else the login name ($USER) if it is a valid one
  std::string fingerprint;
  std::string server_key_file;
  int rsa_bits = 3072;
};

struct GetOptions {
  std::vector<std::string> paths;  // one, or several (then -o names a directory)
  bool recursive = false;          // -r: a directory and everything below it
  bool uploads = false;            // from your uploads instead of the served folder
  std::string output;              // empty: stdout; "-": stdout, binary or not
  bool resume = false;             // -C: continue OUTPUT.part
};

struct LsOptions {
  std::string path = "/";
  bool uploads = false;
  bool long_format = false;  // -l: type, size in bytes, modification time (local), name
  bool human = false;        // -h: -l with sizes in KiB, MiB, ...
  bool json = false;         // --json: the entries as one JSON object (README: "ls --json")
};

// scp-like: put SRC... [DEST]. With several sources (or -r) DEST is a directory in the upload area.
struct PutOptions {
  std::vector<std::string> args;  // the sources, then DEST when there are two or more
  bool recursive = false;         // -r: directories and the regular files below them
};

// The server to talk to: --server (or MINIHTTPS_SERVER), else the one `connect` remembered.
// UsageError when there is none ("no server yet: run `minihttps connect HOST:PORT`") or it is malformed.
net::ServerUrl server_url(const GlobalOptions& g, const Home& home);

int run_connect(const GlobalOptions& g, const ConnectOptions& c);
int run_put(const GlobalOptions& g, const PutOptions& o);
int run_rm(const GlobalOptions& g, const std::string& name);
int run_get(const GlobalOptions& g, const GetOptions& o);
int run_ls(const GlobalOptions& g, const LsOptions& o);
int run_whoami(const GlobalOptions& g, bool json);
int run_logout(const GlobalOptions& g);

}  // namespace mh::client
