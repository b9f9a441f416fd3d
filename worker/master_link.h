// MasterLink: a worker's IPC connection to the master, and the throws that
// wait for the master's acknowledgement.
//
// Each forwarded throw gets a request id; the master's ThrowResult with that id
// carries the status and body to send to the client. The link does not know
// HTTP: it hands results to the owner's callback with the {connection serial,
// slot} the owner registered, and the owner finds the connection again (or
// learns it has closed meanwhile).
//
// While the master is unreachable the link retries with exponential backoff
// (50 ms doubling to 2 s) on one timer; throws are refused at once (the owner
// answers 503 master_unavailable), and every throw in flight when the
// connection drops is answered 503 too: never silence.
//
// Throws that the worker itself answered with a 4xx are reported as Rejected
// frames so that the master's `rejected` counter covers both ports; while
// disconnected they are added up and sent on reconnect.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "ipc/channel.h"
#include "ipc/messages.h"

namespace sprites::worker {

class MasterLink {
 public:
  struct Waiter {
    uint64_t connection;  // HttpConnection serial
    uint32_t slot;
  };
  using OnResult = std::function<void(const Waiter&, uint16_t status, std::string_view body)>;
  using OnState = std::function<void(bool connected)>;

  MasterLink(uv_loop_t* loop, std::string path, OnResult on_result, OnState on_state);
  ~MasterLink();
  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  void start();
  bool connected() const { return channel_ && channel_->open() && connected_; }
  size_t in_flight() const { return waiting_.size(); }

  // Forwards a throw; false (and nothing sent) when not connected.
  bool forward(const ipc::ThrowMessage& message, Waiter waiter);
  void count_rejected();

  // Answers everything in flight with 503 and closes. Run the loop afterwards.
  void close();

 private:
  static void on_connect(uv_connect_t* req, int status);
  static void on_retry(uv_timer_t* timer);
  void connect();
  void schedule_retry();
  void on_frame(const ipc::FrameView& frame);
  void on_channel_closed();
  void fail_all();

  uv_loop_t* loop_;
  std::string path_;
  OnResult on_result_;
  OnState on_state_;
  uv_timer_t* retry_timer_;
  uv_connect_t connect_req_{};
  bool connecting_ = false;
  bool connected_ = false;
  bool closing_ = false;
  uint64_t backoff_ms_ = 50;
  std::unique_ptr<ipc::Channel> channel_;
  uint32_t next_id_ = 1;
  uint32_t unsent_rejections_ = 0;
  std::unordered_map<uint32_t, Waiter> waiting_;
  uint64_t failures_logged_ = 0;
};

}  // namespace sprites::worker
