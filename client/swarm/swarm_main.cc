// sprites-swarm: the load generator. Parses options and runs either the
// parent (Coordinator: spawns the children, merges their reports) or, with the
// internal --child flag, one child (SwarmChild: its share of the nodes, plan
// on standard input). See coordinator.h and swarm_child.h.
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

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
    swarm::Coordinator coordinator(loop, std::move(options));
    code = coordinator.run();
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return code;
}
