// See master_link.h.
#include "worker/master_link.h"

#include <unistd.h>

#include <algorithm>

#include "common/callback_guard.h"
#include "common/http_response.h"
#include "common/log.h"
#include "ipc/peer.h"

namespace sprites::worker {
namespace {

constexpr uint64_t kFirstBackoffMs = 50;
constexpr uint64_t kMaxBackoffMs = 2000;
// A ThrowResult body is a short JSON answer; nothing the master sends comes
// near this.
constexpr uint32_t kMaxFrameFromMaster = 64 * 1024;

}  // namespace

// A connect request outlives its MasterLink when the link goes first: closing
// the pipe calls it back cancelled, later, and it must then touch nothing.
struct MasterLink::ConnectOp {
  uv_connect_t req{};
  MasterLink* owner = nullptr;
};

MasterLink::MasterLink(uv_loop_t* loop, Config config, OnResult on_result, OnState on_state)
    : loop_(loop),
      config_(std::move(config)),
      on_result_(std::move(on_result)),
      on_state_(std::move(on_state)),
      retry_timer_(make_timer(loop, this)),
      deadline_timer_(make_timer(loop, this)),
      heartbeat_timer_(make_timer(loop, this)) {}

MasterLink::~MasterLink() {
  if (connect_op_) connect_op_->owner = nullptr;
  // Timers, a connecting pipe and the channel close with their owners.
}

void MasterLink::start() {
  const uint64_t interval = std::clamp<uint64_t>(config_.master_timeout_ms / 2, 25, 500);
  uv_timer_start(heartbeat_timer_.get(), &MasterLink::on_heartbeat, interval, interval);
  connect();
}

void MasterLink::connect() {
  if (closing_ || connect_op_ || channel_) return;
  connecting_pipe_ = make_pipe(loop_, this);
  connect_op_ = new ConnectOp;
  connect_op_->owner = this;
  uv_pipe_connect(&connect_op_->req, connecting_pipe_.get(), config_.path.c_str(), &MasterLink::on_connect);
}

void MasterLink::on_connect(uv_connect_t* req, int status) {
  guarded("master link: on_connect", [&] {
    auto* op = reinterpret_cast<ConnectOp*>(req);
    MasterLink* self = op->owner;
    delete op;
    if (!self) return;  // the link is gone
    self->connect_op_ = nullptr;
    UvHandle<uv_pipe_t> pipe = std::move(self->connecting_pipe_);
    if (status < 0 || self->closing_) {
      pipe.close();
      if (!self->closing_) {
        if (self->failures_logged_++ % 20 == 0) {
          LOG_WARN("master unreachable at %s: %s (retrying)", self->config_.path.c_str(), uv_strerror(status));
        }
        self->schedule_retry();
      }
      return;
    }
    // Nothing is sent (the Hello included) before the listener is known to be
    // a process of this user.
    uv_os_fd_t fd = -1;
    uv_fileno(pipe.handle(), &fd);
    ipc::PeerCredentials peer;
    if (std::string why = ipc::check_peer_is_own_user(fd, peer); !why.empty()) {
      // Every time (the backoff spaces them out): someone else holds the path.
      LOG_ERROR("refusing the IPC socket %s: %s (retrying)", self->config_.path.c_str(), why.c_str());
      pipe.close();
      self->schedule_retry();
      return;
    }
    ipc::Channel::Callbacks callbacks;
    callbacks.on_frame = [self](const ipc::FrameView& f) { self->on_frame(f); };
    callbacks.on_closed = [self] { self->on_channel_closed(); };
    self->channel_ = std::make_unique<ipc::Channel>(self->loop_, std::move(pipe), std::move(callbacks));
    self->channel_->set_max_frame_length(kMaxFrameFromMaster);
    self->connected_ = true;
    self->stalled_ = false;
    self->ping_out_ = false;
    self->backoff_ms_ = kFirstBackoffMs;
    self->failures_logged_ = 0;
    ipc::HelloMessage hello;
    hello.pid = static_cast<uint32_t>(::getpid());
    hello.max_body_bytes = self->config_.max_body_bytes;
    self->channel_->send(ipc::FrameType::Hello, 0, ipc::encode(hello));
    self->send_rejections();
    LOG_INFO("connected to the master at %s", self->config_.path.c_str());
    if (self->on_state_) self->on_state_(true);
  });
}

void MasterLink::schedule_retry() {
  if (closing_) return;
  uv_timer_start(retry_timer_.get(), &MasterLink::on_retry, backoff_ms_, 0);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

void MasterLink::on_retry(uv_timer_t* timer) {
  guarded("master link: on_retry", [timer] { static_cast<MasterLink*>(timer->data)->connect(); });
}

bool MasterLink::forward(ipc::ThrowMessage message, Waiter waiter) {
  if (!healthy() || live_ >= kMaxInFlight || channel_->unsent_bytes() >= kMaxUnsentBytes) return false;
  const uint64_t now = ipc::monotonic_ms();
  message.expires_at_ms = now + config_.master_timeout_ms - config_.master_timeout_ms / 4;
  const uint32_t id = next_id_++;
  if (ring_.empty()) front_id_ = id;
  ring_.push_back(Pending{waiter, now + config_.master_timeout_ms, true});
  ++live_;
  channel_->send(ipc::FrameType::Throw, id, ipc::encode(message));
  // An armed timer is due no later than this throw (deadlines grow in send
  // order): it re-arms for whatever is in front when it fires.
  if (deadline_timer_ && !uv_is_active(deadline_timer_.handle())) arm_deadline();
  return true;
}

void MasterLink::count_rejected(RejectCode code) {
  ++unsent_rejections_[static_cast<size_t>(code) < kRejectCodes ? static_cast<size_t>(code) : kRejectCodes - 1];
  if (connected()) send_rejections();
}

void MasterLink::send_rejections() {
  for (size_t i = 0; i < kRejectCodes; ++i) {
    while (unsent_rejections_[i] > 0) {
      const auto count = static_cast<uint32_t>(std::min<uint64_t>(unsent_rejections_[i], ipc::kMaxRejectedPerFrame));
      channel_->send(ipc::FrameType::Rejected, 0,
                     ipc::encode(ipc::RejectedMessage{static_cast<RejectCode>(i), count}));
      unsent_rejections_[i] -= count;
    }
  }
}

void MasterLink::on_frame(const ipc::FrameView& frame) {
  switch (frame.type) {
    case ipc::FrameType::ThrowResult:
      return on_result(frame);
    case ipc::FrameType::Pong:
      if (ping_out_ && frame.id == ping_id_) {
        ping_out_ = false;
        set_stalled(false, nullptr);
      }
      return;
    default:
      LOG_WARN("unexpected frame type %u from the master: reconnecting", static_cast<unsigned>(frame.type));
      channel_->close();
  }
}

void MasterLink::on_result(const ipc::FrameView& frame) {
  ipc::ThrowResultMessage result;
  if (!ipc::decode(frame.body, result)) {
    LOG_WARN("malformed ThrowResult from the master: reconnecting");
    channel_->close();
    return;
  }
  const uint32_t offset = frame.id - front_id_;  // wraps like the ids
  if (offset >= ring_.size() || !ring_[offset].live) return;  // answered 503 already
  Pending& p = ring_[offset];
  p.live = false;
  --live_;
  const Waiter w = p.waiter;
  drop_answered_front();
  on_result_(w, result.status, result.body);
}

void MasterLink::drop_answered_front() {
  while (!ring_.empty() && !ring_.front().live) {
    ring_.pop_front();
    ++front_id_;
  }
}

void MasterLink::arm_deadline() {
  if (!deadline_timer_) return;  // closed
  if (ring_.empty()) {
    uv_timer_stop(deadline_timer_.get());
    return;
  }
  const uint64_t now = ipc::monotonic_ms();
  const uint64_t due = ring_.front().answer_by;
  deadline_polled_ = false;
  uv_timer_start(deadline_timer_.get(), &MasterLink::on_deadline, due > now ? due - now : 0, 0);
}

void MasterLink::on_deadline(uv_timer_t* timer) {
  guarded("master link: on_deadline", [&] {
    auto* self = static_cast<MasterLink*>(timer->data);
    // Armed for a throw answered since: wait for the one now in front.
    if (self->ring_.empty() || self->ring_.front().answer_by > ipc::monotonic_ms()) {
      self->arm_deadline();
      return;
    }
    if (!self->deadline_polled_) {
      // Timers run before this turn's I/O: let the poll phase read answers
      // that are already in the socket, then act in the next turn.
      self->deadline_polled_ = true;
      uv_timer_start(timer, &MasterLink::on_deadline, 0, 0);
      return;
    }
    self->deadline_polled_ = false;
    const uint64_t now = ipc::monotonic_ms();
    const std::string body =
        http::error_body("master_unavailable", "the master did not answer in time; retry");
    size_t timed_out = 0;
    while (!self->ring_.empty() && self->ring_.front().answer_by <= now) {
      Pending p = self->ring_.front();
      self->ring_.pop_front();
      ++self->front_id_;
      if (!p.live) continue;
      --self->live_;
      ++timed_out;
      self->on_result_(p.waiter, 503, body);
    }
    self->drop_answered_front();
    self->arm_deadline();
    if (timed_out > 0) self->set_stalled(true, "throws got no answer in time");
  });
}

void MasterLink::on_heartbeat(uv_timer_t* timer) {
  guarded("master link: on_heartbeat", [&] {
    auto* self = static_cast<MasterLink*>(timer->data);
    if (!self->connected()) return;
    const uint64_t now = ipc::monotonic_ms();
    if (self->figures_ && now - self->figures_sent_at_ >= 1000) {
      self->figures_sent_at_ = now;
      ipc::FiguresMessage figures = self->figures_();
      figures.queued_bytes = self->channel_->queued_bytes();
      self->channel_->send(ipc::FrameType::Figures, 0, ipc::encode(figures));
    }
    if (self->ping_out_) {
      if (now - self->ping_sent_at_ >= self->config_.master_timeout_ms) {
        self->set_stalled(true, "no answer to a ping");
      }
      return;
    }
    self->ping_out_ = true;
    self->ping_sent_at_ = now;
    self->channel_->send(ipc::FrameType::Ping, ++self->ping_id_, {});
  });
}

void MasterLink::set_stalled(bool stalled, const char* why) {
  if (stalled == stalled_) return;
  stalled_ = stalled;
  if (stalled) {
    LOG_WARN("the master does not answer within %llu ms (%s): throws get 503 until it does",
             static_cast<unsigned long long>(config_.master_timeout_ms), why);
  } else {
    LOG_INFO("the master answers again");
  }
}

void MasterLink::fail_all(const char* message) {
  std::deque<Pending> ring;
  ring.swap(ring_);
  front_id_ = next_id_;
  live_ = 0;
  if (deadline_timer_) uv_timer_stop(deadline_timer_.get());
  const std::string body = http::error_body("master_unavailable", message);
  for (const Pending& p : ring) {
    if (p.live) on_result_(p.waiter, 503, body);
  }
}

void MasterLink::on_channel_closed() {
  bool was_connected = connected_;
  connected_ = false;
  stalled_ = false;
  ping_out_ = false;
  channel_.reset();  // the Channel allows destruction from inside on_closed
  fail_all("the connection to the master was lost; retry");
  if (was_connected) {
    LOG_WARN("lost the connection to the master");
    if (on_state_) on_state_(false);
  }
  schedule_retry();
}

void MasterLink::close() {
  closing_ = true;
  fail_all("this worker is stopping; retry");
  if (channel_) channel_->close();
  retry_timer_.close();
  deadline_timer_.close();
  heartbeat_timer_.close();
  connecting_pipe_.close();  // a connect under way is called back cancelled
}

}  // namespace sprites::worker
