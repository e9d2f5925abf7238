// The built `herald` program and the servers it starts, in tests: run it and
// read stdout and stderr apart; find a free loopback port for a server.
#ifndef HERALD_TEST_HERALD_PROCESS_H_
#define HERALD_TEST_HERALD_PROCESS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace herald::testing {

struct HeraldRun {
  int exit_code = -1;
  std::string out, err;
  std::string all() const { return out + err; }  // both, for "never printed" checks
};

// `s` as one word for the shell.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// Runs build/bin/herald with `shell_args`, already quoted for the shell.
inline HeraldRun RunHeraldShell(const std::string& shell_args) {
  char err_path[] = "/tmp/herald-test-err-XXXXXX";
  int fd = mkstemp(err_path);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string command =
      std::string(HERALD_BINARY_DIR) + "/bin/herald " + shell_args + " 2>" + ShellQuote(err_path);
  HeraldRun run;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, n);
  int status = pclose(p);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  std::stringstream text;
  text << in.rdbuf();
  run.err = text.str();
  std::remove(err_path);
  return run;
}

// Runs build/bin/herald with `args`, each one word.
inline HeraldRun RunHerald(const std::vector<std::string>& args) {
  std::string shell_args;
  for (const std::string& a : args) shell_args.append(shell_args.empty() ? "" : " ").append(ShellQuote(a));
  return RunHeraldShell(shell_args);
}

// A port free on 127.0.0.1 now: bound to 0, read, closed (the server binds
// it right after).
inline int FreeLoopbackPort() {
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(probe >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
  close(probe);
  return ntohs(addr.sin_port);
}

}  // namespace herald::testing

#endif  // HERALD_TEST_HERALD_PROCESS_H_
