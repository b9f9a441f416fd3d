// sprites-master: parses options, builds the relay's parts, runs the loop.
//
// Composition: Relay (grid, mailboxes, deadlines) <- Api (HTTP on the master
// port) and WorkerLink (IPC from the workers). SIGTERM/SIGINT arrive as libuv
// signal handles, so the handler runs on the loop: it answers every held poll,
// stops accepting and closes the parts; the loop then ends by itself.
// SIGUSR2 is a planned restart: the same, plus a snapshot of the whole state
// (see snapshot.h) that the next master loads at start.
//
// A part that cannot start (a port or the IPC socket it cannot listen on, an
// IPC directory other users can write) ends the master with a log line that
// says why and exit status 1, after closing what was built, never abort().
// With --ipc-handoff-fd the binary only makes the IPC socket for the
// supervisor (ipc/socket_file.h) and exits.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common/http_listener.h"
#include "common/log.h"
#include "common/options.h"
#include "common/private_dir.h"
#include "ipc/socket_file.h"
#include "master/api.h"
#include "master/relay.h"
#include "master/uv_relay_clock.h"
#include "master/snapshot.h"
#include "master/worker_link.h"

using namespace sprites;

namespace {

// docs/API.md: --max-nodes 0 means "as many as its file limit allows". Each
// held poll needs a descriptor; keep some for workers, logs and accept slack.
uint64_t nodes_the_file_limit_allows() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 1u << 30;
  constexpr uint64_t kReserve = 64;
  return lim.rlim_cur > kReserve ? lim.rlim_cur - kReserve : 1;
}

struct Master {
  uv_loop_t* loop;
  master::Counters counters;
  std::unique_ptr<master::UvRelayClock> clock;
  master::HttpPollAnswerer answerer;
  std::unique_ptr<master::Relay> relay;
  std::unique_ptr<master::WorkerLink> link;
  std::unique_ptr<master::Api> api;
  std::unique_ptr<http::HttpListener> listener;
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  uv_signal_t sigusr2{};
  std::string snapshot_path;
  uint32_t grid_width = 0;
  bool stopping = false;

  void stop(const char* why, bool snapshot) {
    if (stopping) return;
    stopping = true;
    LOG_INFO("%s: answering %zu held polls and %s", why, relay->polls_pending(),
             snapshot ? "writing a snapshot for the next master" : "stopping");
    api->set_stopping();
    listener->stop_accepting();
    // Workers first: no throw may be accepted after the snapshot is taken, and
    // answers already queued for them still leave (Channel::close flushes).
    link->close();
    relay->answer_all_polls();
    if (snapshot) write_snapshot(*relay, counters, grid_width, snapshot_path);
    listener->close();
    relay.reset();
    clock.reset();
    for (uv_signal_t* s : {&sigterm, &sigint, &sigusr2}) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    // As in the worker: a second stop signal (Ctrl-C reaches every process of
    // the group, then the supervisor sends its own) must not kill the exit.
    for (int signum : {SIGTERM, SIGINT, SIGUSR2}) ::signal(signum, SIG_IGN);
  }

  // Start-up failed: close what was built (the signal handles are not yet
  // initialised), let the loop run the close callbacks, exit 1.
  int fail() {
    listener->close();
    link->close();
    uv_run(loop, UV_RUN_DEFAULT);
    listener.reset();
    link.reset();
    api.reset();
    relay.reset();
    clock.reset();
    uv_run(loop, UV_RUN_DEFAULT);  // the close callbacks of the parts just destroyed
    uv_loop_close(loop);
    return 1;
  }
};

// --ipc-handoff-fd: make the IPC socket and pass it to the supervisor.
int hand_off_ipc_socket(const Options& options) {
  std::string why;
  const int fd = ipc::listen_ipc_socket(options.ipc_path, why);
  if (fd < 0) {
    LOG_ERROR("%s", why.c_str());
    return 1;
  }
  if (!ipc::send_descriptor(options.ipc_handoff_fd, fd, options.ipc_path, why)) {
    LOG_ERROR("%s", why.c_str());
    ::unlink(options.ipc_path.c_str());
    return 1;
  }
  return 0;
}

void on_signal(uv_signal_t* handle, int signum) {
  auto* m = static_cast<Master*>(handle->data);
  if (signum == SIGUSR2) {
    m->stop("SIGUSR2 (planned restart)", /*snapshot=*/true);
  } else {
    m->stop(signum == SIGTERM ? "SIGTERM" : "SIGINT", /*snapshot=*/false);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = parse_options(argc, argv, "sprites-master", options); rc >= 0) return rc;
  log::Level level = log::Level::Info;
  log::parse_level(options.log_level, level);
  log::init("master", level);
  ::signal(SIGPIPE, SIG_IGN);
  if (options.ipc_handoff_fd >= 0) return hand_off_ipc_socket(options);

  Master m;
  m.loop = uv_default_loop();
  master::RelayConfig config;
  config.grid_width = options.grid_width;
  config.poll_timeout_ms = options.poll_timeout_ms;
  config.node_ttl_ms = options.node_ttl_ms;
  config.mailbox_limit = options.mailbox_limit;
  config.rate_limit = options.rate_limit;
  config.max_body_bytes = options.max_body_bytes;
  config.max_nodes = options.max_nodes != 0 ? options.max_nodes : nodes_the_file_limit_allows();

  m.clock = std::make_unique<master::UvRelayClock>(m.loop);
  m.relay = std::make_unique<master::Relay>(*m.clock, m.answerer, config, m.counters);
  m.link = std::make_unique<master::WorkerLink>(m.loop, *m.relay, m.counters, options.max_body_bytes);
  m.api = std::make_unique<master::Api>(
      *m.relay, m.counters,
      [&m](master::Gauges& g) {
        g.connections = m.listener->connection_count();
        g.workers_connected = m.link->workers_connected();
      },
      options.max_body_bytes);
  http::HttpLimits limits;
  limits.max_body_bytes = options.max_body_bytes;
  limits.request_timeout_ms = options.request_timeout_ms;
  limits.idle_timeout_ms = options.idle_timeout_ms;
  m.listener = std::make_unique<http::HttpListener>(m.loop, *m.api, limits);
  m.answerer.attach(*m.listener);

  m.grid_width = config.grid_width;
  m.snapshot_path = master::snapshot_path_for(options.ipc_path);

  // The IPC socket first: it also proves that its directory, where the
  // snapshot lives, is private.
  if (options.ipc_fd >= 0) {
    if (std::string why = check_private_dir(directory_of(options.ipc_path)); !why.empty()) {
      LOG_ERROR("%s: the IPC socket and the snapshot need a directory only this user can write", why.c_str());
      return m.fail();
    }
    if (int rc = m.link->adopt(options.ipc_fd); rc != 0) {
      LOG_ERROR("cannot listen on the inherited IPC socket %s: %s", options.ipc_path.c_str(), uv_strerror(rc));
      return m.fail();
    }
  } else if (std::string why; m.link->listen(options.ipc_path, why) != 0) {
    LOG_ERROR("%s", why.c_str());
    return m.fail();
  }
  master::load_snapshot(*m.relay, m.counters, m.snapshot_path);

  int rc = options.master_fd >= 0 ? m.listener->adopt(options.master_fd)
                                  : m.listener->bind(options.host, options.master_port, /*reuseport=*/false);
  if (rc != 0) {
    LOG_ERROR("cannot listen on the master port %s:%u: %s", options.host.c_str(), options.master_port, uv_strerror(rc));
    return m.fail();
  }
  for (auto [handle, signum] : {std::pair{&m.sigterm, SIGTERM}, std::pair{&m.sigint, SIGINT}, std::pair{&m.sigusr2, SIGUSR2}}) {
    uv_signal_init(m.loop, handle);
    handle->data = &m;
    uv_signal_start(handle, on_signal, signum);
  }

  LOG_INFO("serving on port %u, ipc %s, grid width %u, max nodes %llu", m.listener->port(), options.ipc_path.c_str(),
           config.grid_width, static_cast<unsigned long long>(config.max_nodes));
  uv_run(m.loop, UV_RUN_DEFAULT);

  m.listener.reset();
  m.link.reset();
  m.api.reset();
  m.relay.reset();
  m.clock.reset();
  uv_run(m.loop, UV_RUN_DEFAULT);  // the close callbacks of the parts just destroyed
  rc = uv_loop_close(m.loop);
  if (rc != 0) LOG_WARN("loop closed with handles still open");
  LOG_INFO("stopped");
  return 0;
}
