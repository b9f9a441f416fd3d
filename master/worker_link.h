// WorkerLink: the master's end of the IPC. It listens on the Unix socket,
// accepts one Channel per worker, hands each Throw frame to the Relay and sends
// the outcome back as a ThrowResult with the same request id. Results of one
// loop turn leave in one write per worker (Channel batches).
//
// It is as strict with its peers as the HTTP side is with clients:
//  - a peer must run as the relay's own user (ipc/peer.h), else it is closed
//    before a byte of it is read;
//  - its first frame must be a Hello of this build's IPC version, within
//    kHelloTimeoutMs, and until then it may send nothing longer than a Hello;
//    at most kMaxUnintroduced peers may be waiting to say hello at once;
//  - after its Hello, a frame may be as long as the largest valid throw of the
//    master's --max-body-bytes, and no longer; a worker whose own limit is
//    larger is refused at its Hello, with a log line saying why;
//  - a malformed frame, a second Hello, a Rejected count out of range, or a
//    frame type a worker never sends closes the channel (the worker
//    reconnects; its clients in flight get 503 from it).
// A Throw that arrives after its expires_at_ms (the worker has already
// answered its client 503, e.g. because this master was stopped) is dropped
// unread: a 503 never becomes a delivery.
//
// The listening socket is adopted from the supervisor (--ipc-fd), which keeps
// it across master restarts, or made here by listen() for a master run alone
// (then its file is removed when the link closes).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/uv_handle.h"
#include "ipc/channel.h"
#include "ipc/messages.h"
#include "master/relay.h"
#include "master/stats.h"

namespace sprites::master {

// The answer a worker sends its client for a throw's outcome (docs/API.md
// "throw"): the status and the JSON body.
struct ThrowAnswer {
  uint16_t status;
  std::string body;
};
ThrowAnswer throw_answer(const ThrowOutcome& outcome);

class WorkerLink {
 public:
  static constexpr uint64_t kHelloTimeoutMs = 2000;
  static constexpr size_t kMaxUnintroduced = 16;

  WorkerLink(uv_loop_t* loop, Relay& relay, Counters& counters, uint32_t max_body_bytes);
  ~WorkerLink();
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  // Makes the socket at `path` (ipc/socket_file.h) and listens. 0, or -1
  // with `why` set.
  int listen(const std::string& path, std::string& why);
  // Listens on a socket the supervisor made and keeps. 0, or a libuv error.
  int adopt(int fd);
  size_t workers_connected() const { return hello_count_; }
  // Each connected worker's latest figures, as /metrics samples labelled
  // worker="<pid>" (sprites_worker_connections, sprites_worker_throws_total,
  // sprites_worker_ipc_queued_bytes).
  void append_metrics(std::string& out) const;
  // Called with the new count each time a worker says hello or goes.
  void on_workers_changed(std::function<void(size_t)> f) { on_workers_changed_ = std::move(f); }
  // A throw whose thrower lives on another relay of the cluster: the
  // forwarder takes it (returns true) and calls `answer` once, maybe later;
  // the answer goes to the worker that asked, if it is still connected.
  using ThrowAnswerSink = std::function<void(uint16_t status, std::string_view body)>;
  using ThrowForwarder = std::function<bool(const ipc::ThrowMessage&, ThrowAnswerSink answer)>;
  void set_throw_forwarder(ThrowForwarder f) { forwarder_ = std::move(f); }
  // Stops listening, closes every channel, removes a socket file it made.
  void close();

 private:
  struct Worker {
    std::unique_ptr<ipc::Channel> channel;
    bool said_hello = false;
    uint32_t pid = 0;
    uint64_t connected_at = 0;
    uint64_t serial = 0;  // names it in answers that come later
    bool reported = false;      // has sent its figures at least once
    ipc::FiguresMessage figures;  // the latest it sent (every second)
  };
  static void on_connection(uv_stream_t* server, int status);
  static void on_sweep(uv_timer_t* timer);
  void on_frame(Worker& w, const ipc::FrameView& frame);
  void on_hello(Worker& w, const ipc::FrameView& frame);
  void on_throw(Worker& w, const ipc::FrameView& frame);
  void on_closed(Worker* w);
  void disconnect(Worker& w, const char* why);

  uv_loop_t* loop_;
  Relay& relay_;
  Counters& counters_;
  uint32_t max_body_bytes_;
  UvHandle<uv_pipe_t> server_;
  UvHandle<uv_timer_t> sweep_;
  std::string owned_path_;  // removed on close: made by listen(), not adopted
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t hello_count_ = 0;
  std::function<void(size_t)> on_workers_changed_;
  ThrowForwarder forwarder_;
  uint64_t next_serial_ = 1;
  uint64_t expired_ = 0;           // throws dropped because their worker had given up
  uint64_t expired_logged_at_ = 0;
};

}  // namespace sprites::master
