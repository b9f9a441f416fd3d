// The IPC frame codec shared by master and workers.
//
// Wire format (all integers little-endian), one frame:
//
//   +----------------+---------+----------------+---------------------+
//   | length: u32    | type:u8 | request id: u32| body: length-5 bytes|
//   +----------------+---------+----------------+---------------------+
//
// `length` counts everything after itself (type + id + body), so it is at least
// 5 and at most the decoder's limit (kMaxFrameLength unless the owner sets a
// lower one: the master allows a worker only a Hello's worth before it has said
// hello, then what the largest throw needs). A frame longer than that, or
// shorter than 5, is a protocol violation: the decoder reports it and the
// connection is dropped, because a peer that sent it cannot be trusted to be in
// sync any more.
//
// Frames travel over a SOCK_STREAM Unix socket, so a read may end anywhere: the
// decoder keeps the unfinished tail and yields only whole frames. The encoder
// appends to a caller-owned buffer so that many frames leave in one write.
//
// Dropped alternative: SOCK_SEQPACKET would keep message boundaries for us, but
// it caps a message at the socket buffer size and cannot batch many small frames
// into one syscall, which is what the throw path needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sprites::ipc {

enum class FrameType : uint8_t {
  Hello = 1,        // worker -> master, first frame on a connection
  Throw = 2,        // worker -> master, a validated throw awaiting acknowledgement
  ThrowResult = 3,  // master -> worker, the answer to the Throw with the same id
  Rejected = 4,     // worker -> master, throws the worker answered with a 4xx itself
  Ping = 5,         // worker -> master, "are you there?" (empty body)
  Pong = 6,         // master -> worker, the answer to the Ping with the same id
  Figures = 7,      // worker -> master, the worker's own figures for /metrics, every second
};

inline constexpr size_t kFrameHeaderBytes = 9;         // length + type + id
inline constexpr uint32_t kMinFrameLength = 5;         // type + id, empty body
inline constexpr uint32_t kMaxFrameLength = 1u << 20;  // 1 MiB: far above any valid throw
inline constexpr FrameType kLastFrameType = FrameType::Figures;

// A decoded frame. `body` points into the decoder's buffer and is valid only
// until the next call to FrameDecoder::feed or FrameDecoder::next.
struct FrameView {
  FrameType type;
  uint32_t id;
  std::string_view body;
};

// Appends one encoded frame to `out`. Precondition: body.size() + 5 <= kMaxFrameLength.
void append_frame(std::string& out, FrameType type, uint32_t id, std::string_view body);

// Turns a byte stream into frames. Usage:
//   decoder.feed(bytes, n);
//   FrameView f;
//   while (decoder.next(f) == FrameDecoder::Status::Frame) handle(f);
//   if (decoder.failed()) drop the connection;
class FrameDecoder {
 public:
  enum class Status {
    Frame,     // `out` holds the next frame
    NeedMore,  // no complete frame buffered
    Error,     // length out of range or unknown type; the stream is unusable
  };

  void feed(const char* data, size_t size);
  Status next(FrameView& out);
  bool failed() const { return failed_; }
  // Bytes held for an unfinished frame. Bounded by kFrameHeaderBytes +
  // max_length() as long as next() is drained to NeedMore after each feed: a
  // bad length or type is reported as soon as its bytes arrive, before any body.
  size_t buffered() const { return buffer_.size() - consumed_; }

  // The longest frame accepted from now on (kMinFrameLength..kMaxFrameLength).
  void set_max_length(uint32_t length);
  uint32_t max_length() const { return max_length_; }

 private:
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ already returned as frames
  uint32_t max_length_ = kMaxFrameLength;
  bool failed_ = false;
};

}  // namespace sprites::ipc
