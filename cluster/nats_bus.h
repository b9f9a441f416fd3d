// NatsBus: the master's one connection to NATS, as the loop sees it.
//
// The official C client (libnats) runs its socket I/O on its own threads and
// calls back on them; NatsBus copies each message into a locked inbox and
// wakes the loop with one uv_async, which hands the whole batch to the
// Listener on the loop thread. Publishing is thread-safe in libnats: the loop
// publishes directly, and the client's flusher coalesces what one loop turn
// published into few writes.
//
// Dropped alternative: libnats' libuv adapter (nats/adapters/libuv.h), which
// moves the socket I/O onto our loop. Its first attach must happen on the
// loop thread, so with NATS down at start the client could neither connect
// in the background (the retry thread's attach is refused) nor block the loop
// retrying without stalling every held poll. Message callbacks run on the
// client's threads with it too, so the inbox hop is needed either way.
//
// Connecting never blocks beyond the first attempt: with NATS down the relay
// starts, serves local work, and keeps reconnecting (every 250 ms, forever).
// The inbox is bounded (kMaxInboxBytes): a flood from another NATS client is
// dropped and counted, not buffered without end.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/uv_handle.h"

struct __natsConnection;
struct __natsSubscription;

namespace sprites::cluster {

class NatsBus {
 public:
  static constexpr size_t kMaxInboxBytes = 64u << 20;

  struct Message {
    std::string subject;
    std::string reply;
    std::string data;
  };
  class Listener {
   public:
    virtual ~Listener() = default;
    // On the loop thread, in arrival order.
    virtual void on_message(const Message& m) = 0;
    // The connection to NATS was lost (false) or is back (true).
    virtual void on_connection(bool connected) = 0;
  };

  struct Figures {
    uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, reconnects = 0, inbox_dropped = 0;
  };

  NatsBus(uv_loop_t* loop, Listener& listener);
  ~NatsBus();
  NatsBus(const NatsBus&) = delete;
  NatsBus& operator=(const NatsBus&) = delete;

  // Starts connecting to `urls` (comma-separated) and subscribes to
  // `subjects`. False, with `why`, for options libnats refuses (a malformed
  // URL); an unreachable server is not an error.
  bool start(const std::string& urls, const std::string& client_name, const std::vector<std::string>& subjects,
             std::string& why);
  bool connected() const;
  // False when the client refuses the message (closed, or its reconnect
  // buffer is full): what needed it gets a 503.
  bool publish(const std::string& subject, const std::string& reply, std::string_view data);
  Figures figures() const;
  // Closes the connection; no listener call after this returns.
  void close();

  struct Shared;  // what the client's threads touch (defined in the .cc)

 private:
  static void on_async(uv_async_t* handle);
  void drain();

  uv_loop_t* loop_;
  Listener& listener_;
  std::shared_ptr<Shared> shared_;
  UvHandle<uv_async_t> wakeup_;
  __natsConnection* conn_ = nullptr;
  std::vector<__natsSubscription*> subs_;
  std::vector<Message> batch_;  // the loop's side of the inbox
};

}  // namespace sprites::cluster
