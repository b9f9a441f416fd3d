// sprites-master: parses options, builds the relay's parts, runs the loop.
//
// Composition: Relay (grid, mailboxes, deadlines, on a UvRelayClock) <- Api
// (HTTP on the master port; its HttpPollAnswerer answers parked polls),
// WorkerLink (IPC from the workers) and ClusterLink (NATS, with --nats); with
// --join-rate-limit, a JoinRateLimit the Api asks. The parts are members of
// Master in the order they depend on each other, so they are destroyed in the
// reverse order by themselves; the process skeleton (common/process.h) runs
// the loop and the signals.
//
// SIGTERM/SIGINT stop: every held poll is answered, the ports stop accepting,
// the parts close and the loop ends by itself. SIGUSR2 is a planned restart:
// the same, plus a snapshot of the whole state (see snapshot.h) that the next
// master loads at start.
//
// A part that cannot start (a port or the IPC socket it cannot listen on, an
// IPC directory other users can write) ends the master with a log line that
// says why and exit status 1. With --ipc-handoff-fd the binary only makes the
// IPC socket for the supervisor (ipc/socket_file.h) and exits.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include "common/http_listener.h"
#include "common/log.h"
#include "common/options.h"
#include "common/private_dir.h"
#include "common/process.h"
#include "ipc/socket_file.h"
#include "master/api.h"
#include "master/cluster_link.h"
#include "master/join_rate_limit.h"
#include "master/ready_report.h"
#include "master/relay.h"
#include "master/snapshot.h"
#include "master/web_pages.h"
#include "master/uv_relay_clock.h"
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

master::RelayConfig relay_config(const Options& options) {
  master::RelayConfig config;
  config.grid_width = options.grid_width;
  config.poll_timeout_ms = options.poll_timeout_ms;
  config.node_ttl_ms = options.node_ttl_ms;
  config.mailbox_limit = options.mailbox_limit;
  config.rate_limit = options.rate_limit;
  config.max_body_bytes = options.max_body_bytes;
  config.max_nodes = options.max_nodes != 0 ? options.max_nodes : nodes_the_file_limit_allows();
  if (!options.nats.empty()) config.node_id_prefix = options.relay_id + "-";
  return config;
}

std::unique_ptr<master::JoinRateLimit> join_rate_limit(const master::RelayClock& clock, const Options& options) {
  if (options.join_rate_limit <= 0) return nullptr;
  return std::make_unique<master::JoinRateLimit>(clock, options.join_rate_limit);
}

// The URLs are completed once the master port listens (it may be port 0).
master::RelayIdentity relay_identity(const Options& options) {
  master::RelayIdentity identity;
  identity.id = options.relay_id;
  if (!options.nats.empty()) identity.cluster = options.cluster;
  identity.master_url = options.public_master;
  identity.worker_url = options.public_worker.empty()
                            ? url_scheme(options) + url_host(options.host) + ":" + std::to_string(options.worker_port)
                            : options.public_worker;
  return identity;
}

struct Master {
  Master(uv_loop_t* loop, const Options& options)
      : config(relay_config(options)),
        identity(relay_identity(options)),
        clock(loop),
        relay(clock, answerer, config, counters),
        link(loop, relay, counters, options.max_body_bytes),
        cluster(loop, relay, identity, options.nats, options.relay_timeout_ms),
        join_limit(join_rate_limit(clock, options)),
        api(relay, counters, identity, cluster,
            [this](master::Gauges& g) {
              g.connections = listener.connection_count();
              g.workers_connected = link.workers_connected();
            },
            options.max_body_bytes),
        operators(
            counters, cluster, [this] { return api.gauges(); },
            [this, tls = options.tls](std::string& out) {
              link.append_metrics(out);
              if (tls) {
                master::append_metric(out, "sprites_tls_certificate_expiry_timestamp_seconds", "gauge",
                                      "When the certificate the master serves expires, seconds since the epoch.",
                                      static_cast<double>(tls->not_after()));
              }
            },
            options.admin_token),
        listener(loop, api, Process::http_limits(options)),
        admin_listener(loop, operators, Process::http_limits(options)),
        snapshot_path(master::snapshot_path_for(options.ipc_path)),
        ready(options.ready_fd) {
    answerer.attach(listener);
    api.attach(listener);
    listener.set_tls(options.tls);
    admin_listener.set_tls(options.tls);
    api.set_join_key(options.join_key);
    if (join_limit) api.set_join_rate_limit(join_limit.get());
    const std::string web = master::WebPages::folder(options.web_dir);
    if (std::string why; pages.load(web, why)) {
      api.set_pages(&pages);
      operators.set_pages(&pages);
    } else {
      LOG_WARN("no pages to serve at / (%s): set --web-dir to the repository's web/ folder", why.c_str());
    }
    if (options.admin_port < 0) api.share_port_with(&operators);
    link.on_workers_changed([this](size_t n) { ready.workers(n); });
    if (identity.clustered()) {
      link.set_throw_forwarder([this](const ipc::ThrowMessage& t, master::WorkerLink::ThrowAnswerSink answer) {
        return cluster.take_throw(t, std::move(answer));
      });
    }
  }

  // Once the master port listens: the public URL, then the cluster.
  bool join_cluster(const Options& options) {
    if (identity.master_url.empty()) {
      identity.master_url = url_scheme(options) + url_host(options.host) + ":" + std::to_string(listener.port());
    }
    std::string why;
    if (cluster.start(why)) return true;
    LOG_ERROR("%s", why.c_str());
    return false;
  }

  // The first stop signal. Workers first: no throw may be accepted after the
  // snapshot is taken, and answers already queued for them still leave (a
  // channel's close drains).
  void stop(const char* why, bool snapshot) {
    LOG_INFO("%s: answering %zu held polls and %s", why, relay.polls_pending(),
             snapshot ? "writing a snapshot for the next master" : "stopping");
    api.set_stopping();
    listener.stop_accepting();
    admin_listener.stop_accepting();
    link.close();
    cluster.close();  // keeps what snapshot_part() needs
    relay.answer_all_polls();
    if (snapshot) write_snapshot(relay, counters, config.grid_width, snapshot_path, cluster.snapshot_part());
    listener.close();
    admin_listener.close();
    clock.close();  // nothing left to time: the loop may end
  }

  master::RelayConfig config;
  master::RelayIdentity identity;
  master::Counters counters;
  master::UvRelayClock clock;
  master::HttpPollAnswerer answerer;
  master::Relay relay;
  master::WorkerLink link;
  master::ClusterLink cluster;
  std::unique_ptr<master::JoinRateLimit> join_limit;  // none without --join-rate-limit
  master::Api api;
  master::OperatorApi operators;
  http::HttpListener listener;
  http::HttpListener admin_listener;  // listens only with --admin-port
  master::WebPages pages;
  std::string snapshot_path;
  master::ReadyReport ready;
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

// The IPC socket: inherited from the supervisor, or made here. Its directory,
// where the snapshot lives too, must be private either way.
bool listen_for_workers(master::WorkerLink& link, const Options& options) {
  if (options.ipc_fd < 0) {
    std::string why;
    if (link.listen(options.ipc_path, why) == 0) return true;
    LOG_ERROR("%s", why.c_str());
    return false;
  }
  if (std::string why = check_private_dir(directory_of(options.ipc_path)); !why.empty()) {
    LOG_ERROR("%s: the IPC socket and the snapshot need a directory only this user can write", why.c_str());
    return false;
  }
  if (int rc = link.adopt(options.ipc_fd); rc != 0) {
    LOG_ERROR("cannot listen on the inherited IPC socket %s: %s", options.ipc_path.c_str(), uv_strerror(rc));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int rc = parse_options(argc, argv, "sprites-master", options); rc >= 0) return rc;
  Process process("master", options);
  if (options.ipc_handoff_fd >= 0) return hand_off_ipc_socket(options);

  int status = 0;
  {
    Master m(process.loop(), options);
    bool ready = listen_for_workers(m.link, options);
    if (ready) {
      master::SnapshotCluster saved;
      if (master::load_snapshot(m.relay, m.counters, m.snapshot_path, &saved) == master::SnapshotLoad::Loaded) {
        m.cluster.restore_part(saved);
      }
      ready = Process::listen(m.listener, options.master_fd, options.host, options.master_port, false, "master port");
    }
    if (ready && options.admin_port >= 0) {
      ready = Process::listen(m.admin_listener, options.admin_fd, options.admin_host,
                              static_cast<uint16_t>(options.admin_port), false, "admin port");
    }
    if (ready) ready = m.join_cluster(options);
    if (!ready) {
      status = 1;
    } else {
      process.on_stop_signals({SIGTERM, SIGINT, SIGUSR2}, [&m](int signum) {
        if (signum == SIGUSR2) {
          m.stop("SIGUSR2 (planned restart)", /*snapshot=*/true);
        } else {
          m.stop(signum == SIGTERM ? "SIGTERM" : "SIGINT", /*snapshot=*/false);
        }
      });
      LOG_INFO("relay %s serving on port %u, ipc %s, grid width %u, max nodes %llu", m.identity.id.c_str(), m.listener.port(),
               options.ipc_path.c_str(), m.config.grid_width, static_cast<unsigned long long>(m.config.max_nodes));
      if (options.tls) {
        char until[32] = "?";
        const time_t t = static_cast<time_t>(options.tls->not_after());
        struct tm tm {};
        if (gmtime_r(&t, &tm)) std::strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
        LOG_INFO("TLS on every port with %s, valid until %s", options.tls_cert.c_str(), until);
      }
      if (options.admin_port >= 0) {
        LOG_INFO("operator endpoints on %s port %u%s", options.admin_host.c_str(), m.admin_listener.port(),
                 options.admin_token.empty() ? "" : ", admin token required");
      } else if (!options.admin_token.empty()) {
        LOG_INFO("operator endpoints on the master port, admin token required");
      }
      if (!options.join_key.empty() || options.join_rate_limit > 0) {
        char limit[80] = "no rate limit";
        if (options.join_rate_limit > 0) {
          std::snprintf(limit, sizeof limit, "at most %g joins/s per source address", options.join_rate_limit);
        }
        LOG_INFO("join control: %s, %s", options.join_key.empty() ? "no ticket needed" : "a signed ticket needed", limit);
      }
      m.ready.serving();
      process.run();
    }
  }  // the parts close, last made first
  process.finish();
  LOG_INFO("stopped");
  return status;
}
