// The frame codec: the only code that knows how IPC bytes are cut into frames
// (wire format in frame.h).
//
// Owns: the length/type/id header, validation of a header the moment its bytes
// arrive, and the reassembly buffer for a frame split across reads. Leaves out:
// what a body means (messages.cc) and any I/O (channel.cc).
//
// The decoder checks the length as soon as its 4 bytes are buffered and the type
// as soon as its byte is, so a hostile or desynchronised peer is refused before
// it can make us hold up to a megabyte of a frame we would reject anyway. Once
// failed it stays failed and drops further input: resynchronising inside a byte
// stream is guesswork.
//
// Memory: the consumed prefix is dropped on the next feed (one memmove of the
// unfinished tail, which is at most one frame), and a buffer grown by a large
// frame is released once it is drained, so an idle channel keeps little.
//
// Dropped alternative: returning frames that point into the caller's read buffer
// when a whole frame happens to be inside one read (zero copy). It saves one copy
// of small frames but gives two code paths and two lifetimes for FrameView.body;
// IPC volume is far below memcpy speed, so one path wins.
#include "ipc/frame.h"

#include <algorithm>
#include <cstdlib>

#include "common/log.h"

namespace sprites::ipc {
namespace {

// A drained buffer larger than this is freed instead of kept for the next frame:
// ordinary traffic (throws of a few KiB) never reaches it, a rare big frame does
// not pin its memory forever.
constexpr size_t kRetainedCapacity = 64 * 1024;

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xffu));
  out.push_back(static_cast<char>((v >> 8) & 0xffu));
  out.push_back(static_cast<char>((v >> 16) & 0xffu));
  out.push_back(static_cast<char>((v >> 24) & 0xffu));
}

uint32_t get_u32(const char* p) {
  return static_cast<uint32_t>(static_cast<uint8_t>(p[0])) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3])) << 24;
}

bool known_type(uint8_t byte) {
  return byte >= static_cast<uint8_t>(FrameType::Hello) && byte <= static_cast<uint8_t>(kLastFrameType);
}

}  // namespace

void append_frame(std::string& out, FrameType type, uint32_t id, std::string_view body) {
  if (body.size() > kMaxFrameLength - kMinFrameLength) {
    // The peer would drop the connection on this frame; sending it is a bug here.
    LOG_ERROR("ipc: refusing to encode a %zu-byte frame body (limit %u)", body.size(),
              kMaxFrameLength - kMinFrameLength);
    std::abort();
  }
  out.reserve(out.size() + kFrameHeaderBytes + body.size());
  put_u32(out, static_cast<uint32_t>(kMinFrameLength + body.size()));
  out.push_back(static_cast<char>(type));
  put_u32(out, id);
  out.append(body);
}

void FrameDecoder::feed(const char* data, size_t size) {
  if (failed_ || size == 0) return;
  const size_t tail = buffer_.size() - consumed_;
  size_t wanted = tail + size;
  if (tail >= 4) {
    // The unfinished frame's length is known: make room for all of it now, so a
    // big frame arriving in many reads is one allocation of its own size rather
    // than a series of doublings up to twice that. An out-of-range length is
    // left for next() to report.
    const uint32_t length = get_u32(buffer_.data() + consumed_);
    if (length <= max_length_) wanted = std::max(wanted, 4 + static_cast<size_t>(length));
  }
  if (buffer_.capacity() < wanted) {
    std::string grown;
    grown.reserve(wanted);
    grown.append(buffer_, consumed_, tail);
    buffer_.swap(grown);
  } else if (consumed_ > 0) {
    buffer_.erase(0, consumed_);
  }
  consumed_ = 0;
  buffer_.append(data, size);
}

void FrameDecoder::set_max_length(uint32_t length) {
  max_length_ = std::clamp(length, kMinFrameLength, kMaxFrameLength);
}

FrameDecoder::Status FrameDecoder::next(FrameView& out) {
  if (failed_) return Status::Error;
  const size_t available = buffer_.size() - consumed_;
  const char* head = buffer_.data() + consumed_;

  if (available >= 4) {
    const uint32_t length = get_u32(head);
    if (length < kMinFrameLength || length > max_length_) {
      failed_ = true;
    } else if (available >= 5 && !known_type(static_cast<uint8_t>(head[4]))) {
      failed_ = true;
    } else if (available >= 4 + static_cast<size_t>(length)) {
      out.type = static_cast<FrameType>(static_cast<uint8_t>(head[4]));
      out.id = get_u32(head + 5);
      out.body = std::string_view(head + kFrameHeaderBytes, length - kMinFrameLength);
      consumed_ += 4 + static_cast<size_t>(length);
      return Status::Frame;
    }
    if (failed_) {
      std::string().swap(buffer_);
      consumed_ = 0;
      return Status::Error;
    }
  }

  if (consumed_ == buffer_.size()) {
    // Drained: the last FrameView handed out is invalid from this call on.
    if (buffer_.capacity() > kRetainedCapacity) {
      std::string().swap(buffer_);
    } else {
      buffer_.clear();
    }
    consumed_ = 0;
  }
  return Status::NeedMore;
}

}  // namespace sprites::ipc
