// sprites-swarm: the load generator. Parses options and runs either the
// parent (Coordinator: spawns the children, merges their reports) or, with the
// internal --child flag, one child (SwarmChild: its share of the nodes, plan
// on standard input). See coordinator.h and swarm_child.h.
//
// The parent resolves the names in --master and --worker once, before the
// run: a name that does not resolve ends it like a relay that is not there
// (exit 3), an address that is not loopback is a usage error (exit 2). The
// children get addresses, never names.
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "client/resolver.h"
#include "client/swarm/coordinator.h"
#include "client/swarm/swarm_child.h"
#include "client/swarm/swarm_options.h"
#include "common/log.h"

using namespace sprites;

int main(int argc, char** argv) {
  swarm::SwarmOptions options;
  if (int rc = swarm::parse_swarm_options(argc, argv, options); rc >= 0) return rc;
  uv_loop_t* loop = uv_default_loop();
  int code = 0;
  if (options.child) {
    log::init("swarm child " + std::to_string(::getpid()), log::Level::Warn);
    // A child must not outlive its parent (which holds the run together).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) return 1;
    swarm::SwarmChild child(loop);
    code = child.run();
  } else {
    log::init("swarm", log::Level::Warn);
    std::vector<client::Endpoint*> targets;
    for (auto* list : {&options.masters, &options.workers}) {
      for (client::Endpoint& e : *list) targets.push_back(&e);
    }
    if (std::string why = client::resolve_before_run(loop, targets); !why.empty()) {
      std::fprintf(stderr, "sprites-swarm: %s\n", why.c_str());
      uv_loop_close(loop);
      return 3;
    }
    if (int rc = swarm::check_swarm_targets(options); rc >= 0) {
      uv_loop_close(loop);
      return rc;
    }
    swarm::Coordinator coordinator(loop, std::move(options));
    code = coordinator.run();
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return code;
}
