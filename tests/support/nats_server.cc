// See nats_server.h.
#include "support/nats_server.h"

#include <catch2/catch.hpp>

#include <regex>

#include "support/child_process.h"

namespace sprites::test {

namespace {
constexpr char kNatsServer[] = "/usr/sbin/nats-server";
constexpr std::chrono::seconds kListenGuard{30};
}  // namespace

NatsServer::NatsServer() { launch(-1); }

NatsServer::~NatsServer() = default;

pid_t NatsServer::pid() const { return child_ ? child_->pid() : -1; }

void NatsServer::launch(int port) {
  ChildProcess::Spec spec;
  // Its log goes to stderr; the shell puts it on the pipe the test reads.
  spec.argv = {"/bin/sh", "-c",
               std::string("exec ") + kNatsServer + " -a 127.0.0.1 -p " + std::to_string(port) + " 2>&1"};
  child_ = std::make_unique<ChildProcess>(spec);
  static const std::regex kListening(R"(Listening for client connections on 127\.0\.0\.1:([0-9]{1,5}))");
  const auto deadline = Clock::now() + kListenGuard;
  for (;;) {
    bool timed_out = false;
    std::optional<std::string> line = child_->read_line(deadline, &timed_out);
    if (!line) FAIL("nats-server did not listen within " << kListenGuard.count() << " s: " << child_->output());
    std::smatch m;
    if (std::regex_search(*line, m, kListening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      return;
    }
  }
}

void NatsServer::stop() {
  if (!child_) return;
  child_->terminate(kStopGuard);
  child_.reset();
}

void NatsServer::start() {
  stop();
  launch(port_);
}

}  // namespace sprites::test
