// MasterLink: a worker's IPC connection to the master, and the throws that
// wait for the master's acknowledgement.
//
// Each forwarded throw gets a request id; the master's ThrowResult with that id
// carries the status and body to send to the client. The link does not know
// HTTP: it hands results to the owner's callback with the {connection serial,
// slot} the owner registered, and the owner finds the connection again (or
// learns it has closed meanwhile).
//
// Never silence, never an unbounded wait:
//  - while the master is unreachable the link retries with exponential backoff
//    (50 ms doubling to 2 s) on one timer; throws are refused at once (the
//    owner answers 503 master_unavailable), and every throw in flight when the
//    connection drops is answered 503 too;
//  - a throw the master has not answered within master_timeout_ms is answered
//    503; its frame carries a deadline a quarter of that earlier, after which
//    the master drops it unread, so the client's 503 does not turn into a
//    delivery later. Only a master held up for that quarter between accepting
//    a throw and writing its answer can still deliver a throw answered 503
//    (docs/API.md says so; the client library dedups by id). Answers already
//    in the socket when a deadline passes are read before it is acted on (the
//    timer fires twice: once to let the loop poll, once to answer 503);
//  - a Ping every ping interval measures the master: one unanswered for
//    master_timeout_ms, or a throw that timed out, marks the link stalled
//    (/healthz 503, new throws 503 at once) until a Pong comes back;
//  - at most kMaxInFlight throws and kMaxUnsentBytes of frames wait at once;
//    past that, throws get 503 at once instead of piling up in memory.
//
// Throws in flight live in a ring indexed by request id (ids are consecutive
// and answers come back nearly in order), so lookup is O(1) and every throw
// shares one deadline timer, in send order. An answer does not touch the
// timer: when it fires for a throw answered since, it re-arms for the one now
// in front, so it fires about once per master_timeout_ms under steady load
// instead of being restarted for every answer.
//
// The peer must run as this worker's user (ipc/peer.h): the link checks the
// listener's credentials before it sends its Hello, and refuses (and retries
// later) otherwise. Throws that the worker itself answered with a 4xx are
// reported as Rejected frames by error code so that the master's `rejected`
// counters cover both ports; while disconnected they are added up and sent on
// reconnect. Every second the worker's own figures (connections, throws
// received, bytes queued for the master) go to the master's /metrics.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/uv_handle.h"
#include "ipc/channel.h"
#include "ipc/messages.h"

namespace sprites::worker {

class MasterLink {
 public:
  static constexpr size_t kMaxInFlight = 4096;
  static constexpr size_t kMaxUnsentBytes = 8u << 20;

  struct Waiter {
    uint64_t connection;  // HttpConnection serial
    uint32_t slot;
  };
  using OnResult = std::function<void(const Waiter&, uint16_t status, std::string_view body)>;
  using OnState = std::function<void(bool connected)>;

  struct Config {
    std::string path;
    uint32_t max_body_bytes = 16384;      // sent in the Hello: the master checks it against its own
    uint64_t master_timeout_ms = 1000;
  };

  MasterLink(uv_loop_t* loop, Config config, OnResult on_result, OnState on_state);
  ~MasterLink();
  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  void start();
  bool connected() const { return channel_ && channel_->open() && connected_; }
  // Connected and the master answers in time: what /healthz reports.
  bool healthy() const { return connected() && !stalled_; }
  size_t in_flight() const { return live_; }

  // Forwards a throw; false (and nothing sent) when it cannot be: not
  // connected, the master stalled, or the in-flight bounds reached.
  bool forward(ipc::ThrowMessage message, Waiter waiter);
  void count_rejected(RejectCode code);
  // What the worker's figures are made of (connections, throws received);
  // the link adds its own queue and sends them to the master every second.
  void set_figures(std::function<ipc::FiguresMessage()> figures) { figures_ = std::move(figures); }

  // Answers everything in flight with 503 and closes the connection
  // gracefully (the loop runs on until it has closed). Destroying the link
  // without close() is safe too: it just answers nothing more.
  void close();

 private:
  struct Pending {
    Waiter waiter;
    uint64_t answer_by;  // monotonic ms: 503 then
    bool live;
  };

  static void on_connect(uv_connect_t* req, int status);
  static void on_retry(uv_timer_t* timer);
  static void on_deadline(uv_timer_t* timer);
  static void on_heartbeat(uv_timer_t* timer);
  void connect();
  void schedule_retry();
  void on_frame(const ipc::FrameView& frame);
  void on_result(const ipc::FrameView& frame);
  void on_channel_closed();
  void fail_all(const char* message);
  void drop_answered_front();
  void arm_deadline();
  void set_stalled(bool stalled, const char* why);
  void send_rejections();

  uv_loop_t* loop_;
  Config config_;
  OnResult on_result_;
  OnState on_state_;
  struct ConnectOp;
  UvHandle<uv_timer_t> retry_timer_;
  UvHandle<uv_timer_t> deadline_timer_;
  UvHandle<uv_timer_t> heartbeat_timer_;
  UvHandle<uv_pipe_t> connecting_pipe_;  // while a connect is under way
  ConnectOp* connect_op_ = nullptr;      // its request, which outlives us if need be
  bool connected_ = false;
  bool closing_ = false;
  bool stalled_ = false;
  bool deadline_polled_ = false;  // the due deadline let one I/O poll run first
  uint64_t backoff_ms_ = 50;
  std::unique_ptr<ipc::Channel> channel_;
  uint32_t next_id_ = 0;      // id of the next throw
  std::deque<Pending> ring_;  // throws from front_id_ on; answered ones wait to be popped
  uint32_t front_id_ = 0;
  size_t live_ = 0;           // unanswered entries of ring_
  uint32_t ping_id_ = 0;
  bool ping_out_ = false;     // a Ping waits for its Pong
  uint64_t ping_sent_at_ = 0;
  uint64_t unsent_rejections_[kRejectCodes] = {};
  std::function<ipc::FiguresMessage()> figures_;
  uint64_t figures_sent_at_ = 0;
  uint64_t failures_logged_ = 0;
};

}  // namespace sprites::worker
