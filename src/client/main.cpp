// minihttps — the command-line client. Wiring only: options, then one command.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>

#include "client/chat.hpp"
#include "client/command_typo.hpp"
#include "client/commands.hpp"
#include "client/exit_codes.hpp"
#include "client/get_checks.hpp"
#include "client/page_check.hpp"
#include "core/terminal_text.hpp"
#include "core/version.hpp"

using namespace mh;
using namespace mh::client;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"minihttps — client for minihttpsd (minihttps/2): authenticated, sealed, encrypted file access"};
  app.footer(kExitCodeHelp);
  app.require_subcommand(1);
  app.set_version_flag("--version", "minihttps " + std::string(version()));
  app.fallthrough();  // global options may also follow the command
  GlobalOptions g;
  app.add_option("--home", g.home, "state directory (default $MINIHTTPS_HOME, else ~/.config/minihttps)");
  app.add_option(
         "--server", g.server,
         "server address, HOST:PORT, http://HOST:PORT or https://HOST:PORT (default: the one you last connected to)")
      ->envname("MINIHTTPS_SERVER");
  app.add_flag("-v,--verbose", g.verbosity.verbose, "show requests and statuses on stderr");
  app.add_flag("-q,--quiet", g.verbosity.quiet, "no notices or progress bar");
  app.add_option("--timeout", g.timeout_seconds, "seconds to wait for the network before giving up")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();

  ConnectOptions c;
  auto* connect =
      app.add_subcommand("connect", "handshake with a server: creates your identity on first use, pins the server key");
  connect->add_option(
      "address", c.address,
      "HOST:PORT, http://HOST:PORT or https://HOST:PORT (default: --server, else the server you last connected to)");
  connect->add_option(
      "--name", c.name,
      "your display name (1-32 of A-Z a-z 0-9 . _ -; default: the one you had with this server, else your login name)");
  auto* fp = connect->add_option("--fingerprint", c.fingerprint, "the server key fingerprint to require (SHA256:...)");
  connect->add_option("--server-key", c.server_key_file, "the server's public key file to require (PEM)")->excludes(fp);
  connect->add_option("--rsa-bits", c.rsa_bits, "size of a new identity key")
      ->check(CLI::IsMember({2048, 3072, 4096}))
      ->capture_default_str();

  GetOptions get_o;
  auto* get = app.add_subcommand(
      "get", "fetch files: every chunk is verified before it is used; -o FILE appears only once all of it verified");
  get->add_option("path", get_o.paths, "path on the server, e.g. docs/hello.txt; several go into -o DIR/")->required();
  get->add_option("-o,--output", get_o.output,
                  "file or directory to write (default: stdout); DIR/ keeps the remote names");
  get->add_flag("-r,--recursive", get_o.recursive, "a directory and everything below it (into -o DIR)");
  get->add_flag("--uploads", get_o.uploads, "fetch one of your uploads instead");
  get->add_flag("-C,--continue", get_o.resume,
                "continue an interrupted download to -o FILE from FILE.part, if the file did not change");
  // minihttps/2 checks no token's age (freshness comes from the handshake and the request's
  // signature): still accepted so that scripts keep working, and ignored.
  std::int64_t ignored_max_token_age = 0;
  get->add_option("--max-token-age", ignored_max_token_age, "ignored (minihttps/2 checks no token age)")
      ->check(CLI::Range(1, 86400))
      ->group("");

  LsOptions ls_o;
  auto* ls = app.add_subcommand("ls", "list a directory on the server, or show one file");
  ls->set_help_flag("--help", "Print this help message and exit");  // -h is human sizes, as in ls
  ls->add_option("path", ls_o.path, "directory or file on the server")->capture_default_str();
  ls->add_flag("--uploads", ls_o.uploads, "list your uploads instead");
  ls->add_flag("-l", ls_o.long_format, "long format: type, size in bytes, modification time (local), name");
  ls->add_flag("-h", ls_o.human, "long format with sizes in KiB, MiB, GiB");
  ls->add_flag("--json", ls_o.json, "the listing as one line of JSON (fields: see README)");

  PutOptions put_o;
  auto* put = app.add_subcommand("put", "upload files, encrypted, each confirmed by its cksum CRC (private to you)");
  put->add_option("SRC", put_o.args,
                  "SRC... [DEST]: the files to upload, then where: a name for one file, or a directory (DEST/) "
                  "for several (default: the top of your uploads, under each file's name)")
      ->required();
  put->add_flag("-r,--recursive", put_o.recursive, "directories and the files below them (links are skipped)");

  std::string rm_name;
  auto* rm = app.add_subcommand("rm", "remove one of your uploads");
  rm->add_option("name", rm_name, "the upload to remove")->required();

  ChatOptions chat_o;
  auto* chat =
      app.add_subcommand("chat", "encrypted chat through the server: lines from stdin, messages to stdout (/help)");
  chat->add_option("--room", chat_o.room, "the room to join")->capture_default_str();

  auto* whoami = app.add_subcommand(
      "whoami", "show your name, UUID, server, fingerprints and session expiry, once the server confirmed the session");
  bool whoami_json = false;
  whoami->add_flag("--json", whoami_json, "as one line of JSON (fields: see README)");
  auto* logout = app.add_subcommand("logout", "end the session on the server and forget it here");
  auto* page = app.add_subcommand(
      "page", "print the hash of the browser page built into this client; --check: is it what the server serves?");
  bool page_check = false;
  page->add_flag("--check", page_check, "fetch every file of the page from the server and compare");

  // "minihttps gte x": CLI11 would only say that a subcommand is required.
  std::vector<std::string> commands;
  for (const auto* s : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(s->get_name());
  if (const auto typo = unknown_command_message(std::vector<std::string>(argv + 1, argv + argc), commands,
                                                {"--home", "--server", "--timeout"},
                                                {"-v", "--verbose", "-q", "--quiet", "-h", "--help", "--version"})) {
    std::fprintf(stderr, "minihttps: %s\n", terminal_safe_message(*typo).c_str());
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) { return app.exit(e) == 0 ? kOk : kUsage; }
  // Error messages can carry a server's words: escaped where they were quoted, and here once more
  // as a safety net (terminal_safe_message keeps the message's own line breaks).
  const auto report = [](const std::exception& e) {
    std::fprintf(stderr, "minihttps: %s\n", terminal_safe_message(e.what()).c_str());
  };
  try {
    if (*connect) return run_connect(g, c);
    if (*get) return run_get(g, get_o);
    if (*ls) return run_ls(g, ls_o);
    if (*put) return run_put(g, put_o);
    if (*rm) return run_rm(g, rm_name);
    if (*chat) return run_chat(g, chat_o);
    if (*whoami) return run_whoami(g, whoami_json);
    if (*logout) return run_logout(g);
    if (*page) return run_page(g, page_check);
  } catch (const OutputClosed&) {
    return kOk;  // `minihttps get x | head`: the reader had enough
  } catch (const UsageError& e) {
    report(e);
    return kUsage;
  } catch (const Error& e) {
    report(e);
    return exit_code_for(e.code());
  } catch (const std::exception& e) {
    report(e);
    return kFailed;
  }
  return kUsage;
}
