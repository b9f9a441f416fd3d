// See nats_bus.h.
#include "cluster/nats_bus.h"

#include <nats/nats.h>

#include "common/log.h"

namespace sprites::cluster {

struct NatsBus::Shared {
  std::mutex lock;
  bool open = true;               // false: the loop side is closing, touch nothing
  uv_async_t* wakeup = nullptr;   // valid while open
  std::vector<Message> inbox;
  size_t inbox_bytes = 0;
  uint64_t inbox_dropped = 0;
  std::atomic<int> connection_changes{0};  // bumped by the client's threads
  std::atomic<bool> connected{false};

  void wake() {
    if (open && wakeup) uv_async_send(wakeup);
  }
};

namespace {

void on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* shared = static_cast<NatsBus::Shared*>(closure);
  {
    std::lock_guard<std::mutex> guard(shared->lock);
    const size_t size = static_cast<size_t>(natsMsg_GetDataLength(msg));
    if (!shared->open || shared->inbox_bytes + size > NatsBus::kMaxInboxBytes) {
      ++shared->inbox_dropped;
    } else {
      const char* reply = natsMsg_GetReply(msg);
      shared->inbox.push_back(NatsBus::Message{natsMsg_GetSubject(msg), reply ? reply : "",
                                               std::string(natsMsg_GetData(msg), size)});
      shared->inbox_bytes += size;
      shared->wake();
    }
  }
  natsMsg_Destroy(msg);
}

void on_state(natsConnection* nc, void* closure) {
  auto* shared = static_cast<NatsBus::Shared*>(closure);
  shared->connected = natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
  ++shared->connection_changes;
  std::lock_guard<std::mutex> guard(shared->lock);
  shared->wake();
}

}  // namespace

NatsBus::NatsBus(uv_loop_t* loop, Listener& listener)
    : loop_(loop), listener_(listener), shared_(std::make_shared<Shared>()) {}

NatsBus::~NatsBus() {
  close();
  if (conn_ || !subs_.empty()) {
    for (natsSubscription* s : subs_) natsSubscription_Destroy(s);
    natsConnection_Destroy(conn_);
    // Every thread of the client ends before Shared (which they point at)
    // is freed with this object.
    nats_CloseAndWait(2000);
  }
}

bool NatsBus::start(const std::string& urls, const std::string& client_name,
                    const std::vector<std::string>& subjects, std::string& why) {
  wakeup_ = UvHandle<uv_async_t>::allocate();
  uv_async_init(loop_, wakeup_.get(), &NatsBus::on_async);
  wakeup_->data = this;
  shared_->wakeup = wakeup_.get();

  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, urls.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(opts, client_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  // A server that stops answering is noticed within about 3 s.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  // One delivery thread for both subscriptions, not one each.
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts, true);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, on_state, shared_.get());
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_state, shared_.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_state, shared_.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_state, shared_.get());
  if (s != NATS_OK) {
    why = std::string("NATS options refused: ") + natsStatus_GetText(s);
    natsOptions_Destroy(opts);
    return false;
  }
  s = natsConnection_Connect(&conn_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    why = std::string("cannot use NATS at ") + urls + ": " + natsStatus_GetText(s);
    conn_ = nullptr;
    return false;
  }
  for (const std::string& subject : subjects) {
    natsSubscription* sub = nullptr;
    s = natsConnection_Subscribe(&sub, conn_, subject.c_str(), on_msg, shared_.get());
    if (s != NATS_OK) {
      why = "cannot subscribe to " + subject + ": " + natsStatus_GetText(s);
      return false;
    }
    natsSubscription_SetPendingLimits(sub, 1 << 20, static_cast<int>(kMaxInboxBytes));
    subs_.push_back(sub);
  }
  return true;
}

bool NatsBus::connected() const {
  // Asked of the client itself: its callbacks may run after the state changed.
  return conn_ && natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

bool NatsBus::publish(const std::string& subject, const std::string& reply, std::string_view data) {
  if (!connected()) return false;
  natsStatus s = reply.empty()
                     ? natsConnection_Publish(conn_, subject.c_str(), data.data(), static_cast<int>(data.size()))
                     : natsConnection_PublishRequest(conn_, subject.c_str(), reply.c_str(), data.data(),
                                                     static_cast<int>(data.size()));
  return s == NATS_OK;
}

NatsBus::Figures NatsBus::figures() const {
  Figures f;
  {
    std::lock_guard<std::mutex> guard(shared_->lock);
    f.inbox_dropped = shared_->inbox_dropped;
  }
  if (!conn_) return f;
  natsStatistics* stats = nullptr;
  if (natsStatistics_Create(&stats) != NATS_OK) return f;
  if (natsConnection_GetStats(conn_, stats) == NATS_OK) {
    natsStatistics_GetCounts(stats, &f.in_msgs, &f.in_bytes, &f.out_msgs, &f.out_bytes, &f.reconnects);
  }
  natsStatistics_Destroy(stats);
  return f;
}

void NatsBus::on_async(uv_async_t* handle) { static_cast<NatsBus*>(handle->data)->drain(); }

void NatsBus::drain() {
  if (shared_->connection_changes.exchange(0) > 0) listener_.on_connection(shared_->connected);
  {
    std::lock_guard<std::mutex> guard(shared_->lock);
    batch_.swap(shared_->inbox);
    shared_->inbox_bytes = 0;
  }
  for (const Message& m : batch_) {
    if (!shared_->open) break;  // the listener closed the bus
    listener_.on_message(m);
  }
  batch_.clear();
}

void NatsBus::close() {
  {
    std::lock_guard<std::mutex> guard(shared_->lock);
    if (!shared_->open) return;
    shared_->open = false;
    shared_->wakeup = nullptr;
    shared_->inbox.clear();
  }
  if (conn_) natsConnection_Close(conn_);
  wakeup_.close();
}

}  // namespace sprites::cluster
