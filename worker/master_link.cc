// See master_link.h.
#include "worker/master_link.h"

#include <unistd.h>

#include "common/http_response.h"
#include "common/log.h"

namespace sprites::worker {
namespace {

constexpr uint64_t kFirstBackoffMs = 50;
constexpr uint64_t kMaxBackoffMs = 2000;

}  // namespace

MasterLink::MasterLink(uv_loop_t* loop, std::string path, OnResult on_result, OnState on_state)
    : loop_(loop), path_(std::move(path)), on_result_(std::move(on_result)), on_state_(std::move(on_state)) {
  retry_timer_ = new uv_timer_t;
  uv_timer_init(loop_, retry_timer_);
  retry_timer_->data = this;
}

MasterLink::~MasterLink() {
  if (retry_timer_ || channel_ || connecting_) {
    LOG_ERROR("MasterLink destroyed while open");
    std::abort();
  }
}

void MasterLink::start() { connect(); }

void MasterLink::connect() {
  if (closing_ || connecting_ || channel_) return;
  auto* pipe = new uv_pipe_t;
  uv_pipe_init(loop_, pipe, 0);
  connect_req_.data = this;
  connecting_ = true;
  uv_pipe_connect(&connect_req_, pipe, path_.c_str(), &MasterLink::on_connect);
}

void MasterLink::on_connect(uv_connect_t* req, int status) {
  auto* self = static_cast<MasterLink*>(req->data);
  auto* pipe = reinterpret_cast<uv_pipe_t*>(req->handle);
  self->connecting_ = false;
  if (status < 0 || self->closing_) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    if (!self->closing_) {
      if (self->failures_logged_++ % 20 == 0) {
        LOG_WARN("master unreachable at %s: %s (retrying)", self->path_.c_str(), uv_strerror(status));
      }
      self->schedule_retry();
    }
    return;
  }
  ipc::Channel::Callbacks callbacks;
  callbacks.on_frame = [self](const ipc::FrameView& f) { self->on_frame(f); };
  callbacks.on_closed = [self] { self->on_channel_closed(); };
  self->channel_ = std::make_unique<ipc::Channel>(self->loop_, pipe, std::move(callbacks));
  self->connected_ = true;
  self->backoff_ms_ = kFirstBackoffMs;
  self->failures_logged_ = 0;
  self->channel_->send(ipc::FrameType::Hello, 0, ipc::encode(ipc::HelloMessage{static_cast<uint32_t>(::getpid())}));
  if (self->unsent_rejections_ > 0) {
    self->channel_->send(ipc::FrameType::Rejected, 0, ipc::encode(ipc::RejectedMessage{self->unsent_rejections_}));
    self->unsent_rejections_ = 0;
  }
  LOG_INFO("connected to the master at %s", self->path_.c_str());
  if (self->on_state_) self->on_state_(true);
}

void MasterLink::schedule_retry() {
  if (closing_ || !retry_timer_) return;
  uv_timer_start(retry_timer_, &MasterLink::on_retry, backoff_ms_, 0);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

void MasterLink::on_retry(uv_timer_t* timer) { static_cast<MasterLink*>(timer->data)->connect(); }

bool MasterLink::forward(const ipc::ThrowMessage& message, Waiter waiter) {
  if (!connected()) return false;
  uint32_t id = next_id_++;
  if (id == 0) id = next_id_++;
  waiting_.emplace(id, waiter);
  channel_->send(ipc::FrameType::Throw, id, ipc::encode(message));
  return true;
}

void MasterLink::count_rejected() {
  if (connected()) {
    channel_->send(ipc::FrameType::Rejected, 0, ipc::encode(ipc::RejectedMessage{1}));
  } else {
    ++unsent_rejections_;
  }
}

void MasterLink::on_frame(const ipc::FrameView& frame) {
  if (frame.type != ipc::FrameType::ThrowResult) {
    LOG_WARN("unexpected frame type %u from the master", static_cast<unsigned>(frame.type));
    return;
  }
  ipc::ThrowResultMessage result;
  if (!ipc::decode(frame.body, result)) {
    LOG_WARN("malformed ThrowResult from the master: reconnecting");
    channel_->close();
    return;
  }
  auto it = waiting_.find(frame.id);
  if (it == waiting_.end()) return;  // answered 503 already
  Waiter w = it->second;
  waiting_.erase(it);
  on_result_(w, result.status, result.body);
}

void MasterLink::fail_all() {
  std::unordered_map<uint32_t, Waiter> waiting;
  waiting.swap(waiting_);
  std::string body = http::error_body("master_unavailable", "the connection to the master was lost; retry");
  for (auto& [id, w] : waiting) on_result_(w, 503, body);
}

void MasterLink::on_channel_closed() {
  bool was_connected = connected_;
  connected_ = false;
  channel_.reset();  // the Channel allows destruction from inside on_closed
  fail_all();
  if (was_connected) {
    LOG_WARN("lost the connection to the master");
    if (on_state_) on_state_(false);
  }
  schedule_retry();
}

void MasterLink::close() {
  closing_ = true;
  fail_all();
  if (channel_) channel_->close();
  if (retry_timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(retry_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    retry_timer_ = nullptr;
  }
}

}  // namespace sprites::worker
