#pragma once
// Several files in one command: `get -r DIR`, `get A B C -o DIR/`, `put SRC... [DEST]`,
// `put -r DIR [DEST/]`. Each file goes through the one-file path (client/download.hpp,
// client/upload.hpp) and is verified as it is there; a file that fails leaves nothing of itself
// (no FILE.part for get, no committed upload for put), the others still go, and a summary ends it:
// "3 files, 1.2 MiB in 0.4 s; 1 failed". The exit code is then that of the first failure.
#include "client/commands.hpp"

namespace mh::client {

// get with -r or several paths (a single path without -r is run_get's).
int run_get_batch(const GlobalOptions& g, const GetOptions& o, Connection& conn);

}  // namespace mh::client
