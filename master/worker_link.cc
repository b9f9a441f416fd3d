// See worker_link.h.
#include "master/worker_link.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/callback_guard.h"
#include "common/http_response.h"
#include "common/log.h"
#include "ipc/messages.h"
#include "ipc/peer.h"
#include "ipc/socket_file.h"
#include "master/event_text.h"

namespace sprites::master {
namespace {

constexpr uint64_t kSweepIntervalMs = 500;
// A Hello frame: type, id and its 12-byte body.
constexpr uint32_t kHelloFrameLength = ipc::kMinFrameLength + 12;

}  // namespace

ThrowAnswer throw_answer(const ThrowOutcome& outcome) {
  switch (outcome.verdict) {
    case ThrowVerdict::Accepted: {
      std::string body = "{\"to\":";
      append_ref(body, EventRef{outcome.receiver->id, outcome.receiver->name});
      body.push_back('}');
      return {202, std::move(body)};
    }
    case ThrowVerdict::UnknownNode:
      return {404, http::error_body("unknown_node", "no node with this id")};
    case ThrowVerdict::WrongToken:
      return {401, http::error_body("unauthorized", "the token does not belong to this node")};
    case ThrowVerdict::RateLimited:
      return {429, http::error_body("rate_limited", "this node throws faster than its rate limit")};
    case ThrowVerdict::MailboxFull:
      return {429, http::error_body("mailbox_full", "the receiver holds its maximum of unacknowledged events")};
    case ThrowVerdict::ReceiverGone:
      return {503, http::error_body("relay_unavailable", "the receiver has just left; retry")};
    case ThrowVerdict::Elsewhere:
      break;  // the cluster delivers it (ClusterLink::throw_at_home)
  }
  return {500, http::error_body("internal", "an outcome this relay does not know")};
}

WorkerLink::WorkerLink(uv_loop_t* loop, Relay& relay, Counters& counters, uint32_t max_body_bytes)
    : loop_(loop), relay_(relay), counters_(counters), max_body_bytes_(max_body_bytes) {}

WorkerLink::~WorkerLink() {
  // The server, the sweep timer and every channel close with their owners.
  if (server_ && !owned_path_.empty()) ::unlink(owned_path_.c_str());
}

int WorkerLink::listen(const std::string& path, std::string& why) {
  const int fd = ipc::listen_ipc_socket(path, why);
  if (fd < 0) return -1;
  if (int rc = adopt(fd); rc != 0) {
    why = std::string("cannot listen on the IPC socket: ") + uv_strerror(rc);
    ::unlink(path.c_str());
    return -1;
  }
  owned_path_ = path;
  return 0;
}

int WorkerLink::adopt(int fd) {
  server_ = make_pipe(loop_, this);
  int rc = uv_pipe_open(server_.get(), fd);
  if (rc == 0) rc = uv_listen(server_.stream(), 128, &WorkerLink::on_connection);
  if (rc != 0) {
    server_.close();
    return rc;
  }
  sweep_ = make_timer(loop_, this);
  return 0;
}

void WorkerLink::on_connection(uv_stream_t* server, int status) {
  guarded("worker link: on_connection", [&] {
    auto* self = static_cast<WorkerLink*>(server->data);
    if (status < 0) {
      LOG_WARN("worker connection failed: %s", uv_strerror(status));
      return;
    }
    UvHandle<uv_pipe_t> pipe = make_pipe(self->loop_, nullptr);
    if (uv_accept(server, pipe.stream()) != 0) return;  // closed with its owner
    uv_os_fd_t fd = -1;
    uv_fileno(pipe.handle(), &fd);
    ipc::PeerCredentials peer;
    if (std::string why = ipc::check_peer_is_own_user(fd, peer); !why.empty()) {
      LOG_WARN("refused an IPC connection: %s", why.c_str());
      return;
    }
    size_t unintroduced = 0;
    for (const auto& w : self->workers_) unintroduced += w->said_hello ? 0 : 1;
    if (unintroduced >= kMaxUnintroduced) {
      LOG_WARN("refused an IPC connection from pid %d: %zu connections have not said hello yet", static_cast<int>(peer.pid),
               unintroduced);
      return;
    }
    auto worker = std::make_unique<Worker>();
    worker->serial = self->next_serial_++;
    Worker* w = worker.get();
    w->pid = static_cast<uint32_t>(peer.pid);
    w->connected_at = uv_now(self->loop_);
    ipc::Channel::Callbacks callbacks;
    callbacks.on_frame = [self, w](const ipc::FrameView& f) { self->on_frame(*w, f); };
    callbacks.on_closed = [self, w] { self->on_closed(w); };
    self->workers_.push_back(std::move(worker));
    w->channel = std::make_unique<ipc::Channel>(self->loop_, std::move(pipe), std::move(callbacks));
    w->channel->set_max_frame_length(kHelloFrameLength);
    if (!uv_is_active(self->sweep_.handle())) {
      uv_timer_start(self->sweep_.get(), &WorkerLink::on_sweep, kSweepIntervalMs, kSweepIntervalMs);
    }
  });
}

void WorkerLink::on_sweep(uv_timer_t* timer) {
  guarded("worker link: on_sweep", [&] {
    auto* self = static_cast<WorkerLink*>(timer->data);
    const uint64_t now = uv_now(self->loop_);
    std::vector<Worker*> late;
    size_t waiting = 0;
    for (const auto& w : self->workers_) {
      if (w->said_hello || !w->channel->open()) continue;
      if (now - w->connected_at >= kHelloTimeoutMs) {
        late.push_back(w.get());
      } else {
        ++waiting;
      }
    }
    for (Worker* w : late) self->disconnect(*w, "no hello in time");
    if (waiting == 0) uv_timer_stop(timer);
  });
}

void WorkerLink::disconnect(Worker& w, const char* why) {
  LOG_WARN("IPC peer pid %u: %s: disconnecting it", w.pid, why);
  w.channel->close();
}

void WorkerLink::on_frame(Worker& w, const ipc::FrameView& frame) {
  if (!w.said_hello) {
    if (frame.type != ipc::FrameType::Hello) return disconnect(w, "a frame before its hello");
    return on_hello(w, frame);
  }
  switch (frame.type) {
    case ipc::FrameType::Throw:
      return on_throw(w, frame);
    case ipc::FrameType::Ping:
      if (!frame.body.empty()) break;
      w.channel->send(ipc::FrameType::Pong, frame.id, {});
      return;
    case ipc::FrameType::Rejected: {
      ipc::RejectedMessage r;
      if (!ipc::decode(frame.body, r)) break;
      counters_.reject(r.code, r.count);
      return;
    }
    case ipc::FrameType::Figures:
      if (!ipc::decode(frame.body, w.figures)) break;
      w.reported = true;
      return;
    case ipc::FrameType::Hello:
      return disconnect(w, "a second hello");
    case ipc::FrameType::ThrowResult:
    case ipc::FrameType::Pong:
      break;  // never sent to the master
  }
  LOG_WARN("malformed frame (type %u) from worker pid %u: disconnecting it", static_cast<unsigned>(frame.type), w.pid);
  w.channel->close();
}

void WorkerLink::on_hello(Worker& w, const ipc::FrameView& frame) {
  ipc::HelloMessage hello;
  if (!ipc::decode(frame.body, hello)) return disconnect(w, "a malformed hello");
  if (hello.version != ipc::kIpcVersion) {
    LOG_ERROR("worker pid %u speaks IPC version %u, this master %u (another build?): disconnecting it", w.pid,
              hello.version, ipc::kIpcVersion);
    w.channel->close();
    return;
  }
  if (hello.max_body_bytes > max_body_bytes_) {
    LOG_ERROR("worker pid %u accepts throws of %u bytes, this master at most %u (--max-body-bytes differs): "
              "disconnecting it",
              w.pid, hello.max_body_bytes, max_body_bytes_);
    w.channel->close();
    return;
  }
  w.said_hello = true;
  w.channel->set_max_frame_length(ipc::max_throw_frame_length(max_body_bytes_));
  ++hello_count_;
  LOG_INFO("worker pid %u connected (%zu connected)", w.pid, hello_count_);
  if (on_workers_changed_) on_workers_changed_(hello_count_);
}

void WorkerLink::on_throw(Worker& w, const ipc::FrameView& frame) {
  ipc::ThrowMessage t;
  if (!ipc::decode(frame.body, t)) {
    LOG_WARN("malformed throw from worker pid %u: disconnecting it", w.pid);
    w.channel->close();
    return;
  }
  if (ipc::monotonic_ms() > t.expires_at_ms) {
    // The worker has answered this throw 503 already (this loop was held up
    // past its --master-timeout-ms): delivering it now would turn a refusal
    // into a delivery. Nothing is sent back; the worker forgot the request.
    ++expired_;
    const uint64_t now = uv_now(loop_);
    if (now - expired_logged_at_ >= 1000 || expired_logged_at_ == 0) {
      LOG_WARN("dropped %llu throws that reached the master after their worker had answered 503",
               static_cast<unsigned long long>(expired_));
      expired_ = 0;
      expired_logged_at_ = now;
    }
    return;
  }
  if (forwarder_) {
    const uint64_t serial = w.serial;
    const uint32_t frame_id = frame.id;
    const bool forwarded = forwarder_(t, [this, serial, frame_id](uint16_t status, std::string_view body) {
      for (auto& worker : workers_) {
        if (worker->serial == serial) {
          worker->channel->send(ipc::FrameType::ThrowResult, frame_id, ipc::encode(ipc::ThrowResultMessage{status, body}));
          return;
        }
      }
    });
    if (forwarded) return;
  }
  const ThrowOutcome outcome = relay_.throw_sprite(t.node, t.token, t.direction, t.has_id, t.sprite_id, t.sprite);
  const ThrowAnswer answer = throw_answer(outcome);
  ipc::ThrowResultMessage result{answer.status, answer.body};
  w.channel->send(ipc::FrameType::ThrowResult, frame.id, ipc::encode(result));
}

void WorkerLink::on_closed(Worker* w) {
  if (w->said_hello) {
    --hello_count_;
    LOG_INFO("worker pid %u disconnected (%zu connected)", w->pid, hello_count_);
    if (on_workers_changed_) on_workers_changed_(hello_count_);
  }
  // The Channel allows its destruction from inside on_closed.
  auto it = std::find_if(workers_.begin(), workers_.end(), [w](const auto& p) { return p.get() == w; });
  if (it != workers_.end()) {
    std::unique_ptr<Worker> dying = std::move(*it);
    workers_.erase(it);
  }
}

void WorkerLink::close() {
  if (server_) {
    server_.close();
    if (!owned_path_.empty()) ::unlink(owned_path_.c_str());
  }
  sweep_.close();
  std::vector<Worker*> open;
  for (auto& w : workers_) open.push_back(w.get());
  for (Worker* w : open) w->channel->close();
}

void WorkerLink::append_metrics(std::string& out) const {
  char line[160];
  auto sample = [&](const char* name, uint32_t pid, uint64_t value) {
    int n = std::snprintf(line, sizeof line, "%s{worker=\"%u\"} %llu\n", name, pid,
                          static_cast<unsigned long long>(value));
    if (n > 0) out.append(line, static_cast<size_t>(n));
  };
  out.append("# HELP sprites_worker_connections Open worker-port connections of each worker.\n"
             "# TYPE sprites_worker_connections gauge\n");
  for (const auto& w : workers_) {
    if (w->said_hello && w->reported) sample("sprites_worker_connections", w->pid, w->figures.connections);
  }
  out.append("# HELP sprites_worker_throws_total Requests to the throw endpoint each worker received.\n"
             "# TYPE sprites_worker_throws_total counter\n");
  for (const auto& w : workers_) {
    if (w->said_hello && w->reported) sample("sprites_worker_throws_total", w->pid, w->figures.throws);
  }
  out.append("# HELP sprites_worker_ipc_queued_bytes Bytes each worker holds for the master, not yet written.\n"
             "# TYPE sprites_worker_ipc_queued_bytes gauge\n");
  for (const auto& w : workers_) {
    if (w->said_hello && w->reported) sample("sprites_worker_ipc_queued_bytes", w->pid, w->figures.queued_bytes);
  }
}

}  // namespace sprites::master
