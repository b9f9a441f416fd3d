// NatsServer: a real nats-server (Debian's, /usr/sbin/nats-server) for one
// test, on 127.0.0.1 and a port the system chose. The constructor returns
// once the server says it listens for clients; stop() and start() take it
// down and bring it back on the same port (a cluster losing its NATS); the
// destructor stops it. Never skipped: a machine without nats-server fails
// the test that needs one (deploy/setup installs it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace sprites::test {

class ChildProcess;

class NatsServer {
 public:
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const;

  void stop();
  // On the same port as before.
  void start();

 private:
  void launch(int port);
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
};

}  // namespace sprites::test
