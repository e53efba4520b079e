#pragma once
// The client's commands. Each returns the process exit code or throws mh::Error.
#include <optional>
#include <string>

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
  std::string path;
  bool uploads = false;        // from your uploads instead of the served folder
  std::string output;          // empty: stdout; "-": stdout, binary or not
  bool resume = false;         // -C: continue OUTPUT.part
};

struct LsOptions {
  std::string path = "/";
  bool uploads = false;
};

struct PutOptions {
  std::string local;
  std::string remote;  // default: the local file's name
};

// The server to talk to: --server (or MINIHTTPS_SERVER), else the one `connect` remembered.
// UsageError when there is none ("no server yet: run `minihttps connect HOST:PORT`") or it is malformed.
net::ServerUrl server_url(const GlobalOptions& g, const Home& home);

int run_connect(const GlobalOptions& g, const ConnectOptions& c);
int run_put(const GlobalOptions& g, const PutOptions& o);
int run_rm(const GlobalOptions& g, const std::string& name);
int run_get(const GlobalOptions& g, const GetOptions& o);
int run_ls(const GlobalOptions& g, const LsOptions& o);
int run_whoami(const GlobalOptions& g);
int run_logout(const GlobalOptions& g);

}  // namespace mh::client
