// WorkerLink: the master's end of the IPC. It listens on the Unix socket,
// accepts one Channel per worker, hands each Throw frame to the Relay and sends
// the outcome back as a ThrowResult with the same request id. Results of one
// loop turn leave in one write per worker (Channel batches).
//
// A worker that sends a malformed frame is disconnected (it restarts or
// reconnects; its in-flight clients get 503 from it). The socket file is
// created owner-only and removed when the link closes.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "ipc/channel.h"
#include "master/relay.h"
#include "master/stats.h"

namespace sprites::master {

class WorkerLink {
 public:
  WorkerLink(uv_loop_t* loop, Relay& relay, Counters& counters);
  ~WorkerLink();
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  // Binds and listens on `path`. Refuses (returns a libuv error) when another
  // master is already listening there; removes a stale socket file otherwise.
  int listen(const std::string& path);
  size_t workers_connected() const { return hello_count_; }
  // Stops listening, closes every channel, removes the socket file.
  void close();

 private:
  struct Worker {
    std::unique_ptr<ipc::Channel> channel;
    bool said_hello = false;
    uint32_t pid = 0;
  };
  static void on_connection(uv_stream_t* server, int status);
  void on_frame(Worker& w, const ipc::FrameView& frame);
  void on_closed(Worker* w);

  uv_loop_t* loop_;
  Relay& relay_;
  Counters& counters_;
  uv_pipe_t* server_ = nullptr;
  std::string path_;
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t hello_count_ = 0;
};

}  // namespace sprites::master
