// See worker_link.h.
#include "master/worker_link.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "ipc/messages.h"

namespace sprites::master {
namespace {

// True when something accepts connections on `path` right now.
bool someone_listens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

WorkerLink::WorkerLink(uv_loop_t* loop, Relay& relay, Counters& counters)
    : loop_(loop), relay_(relay), counters_(counters) {}

WorkerLink::~WorkerLink() {
  if (server_ || !workers_.empty()) {
    LOG_ERROR("WorkerLink destroyed while open");
    std::abort();
  }
}

int WorkerLink::listen(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return UV_ENAMETOOLONG;
  if (someone_listens(path)) return UV_EADDRINUSE;
  ::unlink(path.c_str());
  server_ = new uv_pipe_t;
  uv_pipe_init(loop_, server_, 0);
  server_->data = this;
  mode_t old = ::umask(077);
  int rc = uv_pipe_bind(server_, path.c_str());
  ::umask(old);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 128, &WorkerLink::on_connection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    server_ = nullptr;
    return rc;
  }
  path_ = path;
  return 0;
}

void WorkerLink::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<WorkerLink*>(server->data);
  if (status < 0) {
    LOG_WARN("worker connection failed: %s", uv_strerror(status));
    return;
  }
  auto* pipe = new uv_pipe_t;
  uv_pipe_init(self->loop_, pipe, 0);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(pipe)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    return;
  }
  auto worker = std::make_unique<Worker>();
  Worker* w = worker.get();
  ipc::Channel::Callbacks callbacks;
  callbacks.on_frame = [self, w](const ipc::FrameView& f) { self->on_frame(*w, f); };
  callbacks.on_closed = [self, w] { self->on_closed(w); };
  self->workers_.push_back(std::move(worker));
  w->channel = std::make_unique<ipc::Channel>(self->loop_, pipe, std::move(callbacks));
}

void WorkerLink::on_frame(Worker& w, const ipc::FrameView& frame) {
  switch (frame.type) {
    case ipc::FrameType::Hello: {
      ipc::HelloMessage hello;
      if (!ipc::decode(frame.body, hello) || w.said_hello) break;
      w.said_hello = true;
      w.pid = hello.pid;
      ++hello_count_;
      LOG_INFO("worker pid %u connected (%zu connected)", hello.pid, hello_count_);
      return;
    }
    case ipc::FrameType::Throw: {
      ipc::ThrowMessage t;
      if (!ipc::decode(frame.body, t)) break;
      ThrowOutcome outcome = relay_.throw_sprite(t.node, t.token, t.direction, t.has_id, t.sprite_id, t.sprite);
      ipc::ThrowResultMessage result{outcome.status, outcome.body};
      w.channel->send(ipc::FrameType::ThrowResult, frame.id, ipc::encode(result));
      return;
    }
    case ipc::FrameType::Rejected: {
      ipc::RejectedMessage r;
      if (!ipc::decode(frame.body, r)) break;
      counters_.rejected += r.count;
      return;
    }
    case ipc::FrameType::ThrowResult:
      break;  // never sent to the master
  }
  LOG_WARN("malformed frame (type %u) from worker pid %u: disconnecting it", static_cast<unsigned>(frame.type), w.pid);
  w.channel->close();
}

void WorkerLink::on_closed(Worker* w) {
  if (w->said_hello) {
    --hello_count_;
    LOG_INFO("worker pid %u disconnected (%zu connected)", w->pid, hello_count_);
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
    uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    server_ = nullptr;
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  std::vector<Worker*> open;
  for (auto& w : workers_) open.push_back(w.get());
  for (Worker* w : open) w->channel->close();
}

}  // namespace sprites::master
