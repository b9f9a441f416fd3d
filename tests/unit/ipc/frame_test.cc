// Behaviour of the IPC frame codec (ipc/frame.h): frames survive any cut of the
// byte stream, and a bad header is refused before its body is waited for.
#include "ipc/frame.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using sprites::ipc::append_frame;
using sprites::ipc::FrameDecoder;
using sprites::ipc::FrameType;
using sprites::ipc::FrameView;
using sprites::ipc::kFrameHeaderBytes;
using sprites::ipc::kMaxFrameLength;
using sprites::ipc::kMinFrameLength;

struct Frame {
  FrameType type;
  uint32_t id;
  std::string body;
  bool operator==(const Frame&) const = default;
};

std::string patterned(size_t size, uint32_t seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7) & 0xff);
  return s;
}

std::vector<Frame> sample_frames() {
  return {
      {FrameType::Hello, 0, ""},
      {FrameType::Throw, 1, "x"},
      {FrameType::ThrowResult, 0xfffffffeu, patterned(100 * 1024, 3)},
      {FrameType::Rejected, 7, ""},
      {FrameType::Throw, 0x01020304u, patterned(300, 9)},
      {FrameType::ThrowResult, 42, std::string(1, '\0')},
  };
}

std::string encode_all(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) append_frame(out, f.type, f.id, f.body);
  return out;
}

// Drains every complete frame, copying bodies out before the next call may move them.
FrameDecoder::Status drain(FrameDecoder& decoder, std::vector<Frame>& into) {
  FrameView view{};
  FrameDecoder::Status status;
  while ((status = decoder.next(view)) == FrameDecoder::Status::Frame) {
    into.push_back({view.type, view.id, std::string(view.body)});
  }
  return status;
}

// Checks decoded frames against the expected sequence as they arrive.
class ExpectedFrames {
 public:
  explicit ExpectedFrames(const std::vector<Frame>& frames) : frames_(frames) {}

  FrameDecoder::Status drain(FrameDecoder& decoder) {
    FrameView view{};
    FrameDecoder::Status status;
    while ((status = decoder.next(view)) == FrameDecoder::Status::Frame) {
      const bool same = next_ < frames_.size() && view.type == frames_[next_].type &&
                        view.id == frames_[next_].id && view.body == frames_[next_].body;
      if (!same) mismatch_ = true;
      ++next_;
    }
    return status;
  }

  bool all_matched() const { return !mismatch_ && next_ == frames_.size(); }

 private:
  const std::vector<Frame>& frames_;
  size_t next_ = 0;
  bool mismatch_ = false;
};

std::string header(uint32_t length, uint8_t type, uint32_t id) {
  std::string h;
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  h.push_back(static_cast<char>(type));
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  return h;
}

}  // namespace

TEST_CASE("a frame is encoded as little-endian length, type, id and body") {
  std::string out;
  append_frame(out, FrameType::Throw, 0x0a0b0c0du, "hi");
  const std::string expected("\x07\x00\x00\x00\x02\x0d\x0c\x0b\x0a"
                             "hi",
                             11);
  CHECK(out == expected);
  CHECK(out.size() == kFrameHeaderBytes + 2);
}

TEST_CASE("append_frame appends to what is already in the buffer") {
  std::string out = "prefix";
  append_frame(out, FrameType::Hello, 1, "");
  CHECK(out.size() == 6 + kFrameHeaderBytes);
  CHECK(out.substr(0, 6) == "prefix");
}

TEST_CASE("frames fed whole decode in order") {
  const std::vector<Frame> frames = sample_frames();
  const std::string stream = encode_all(frames);
  FrameDecoder decoder;
  decoder.feed(stream.data(), stream.size());
  std::vector<Frame> got;
  CHECK(drain(decoder, got) == FrameDecoder::Status::NeedMore);
  CHECK(got == frames);
  CHECK(decoder.buffered() == 0);
  CHECK_FALSE(decoder.failed());
}

TEST_CASE("frames split at any single byte boundary decode identically") {
  const std::vector<Frame> frames = sample_frames();
  const std::string stream = encode_all(frames);
  // ~100k cuts of a ~100 KiB stream: compared in place, no copies of bodies.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    ExpectedFrames expected(frames);
    decoder.feed(stream.data(), cut);
    const bool first_ok = expected.drain(decoder) == FrameDecoder::Status::NeedMore;
    decoder.feed(stream.data() + cut, stream.size() - cut);
    const bool second_ok = expected.drain(decoder) == FrameDecoder::Status::NeedMore;
    if (!first_ok || !second_ok || !expected.all_matched() || decoder.buffered() != 0) {
      FAIL("decoding differs when the stream is cut at byte " << cut);
    }
  }
  SUCCEED("every cut decoded identically");
}

TEST_CASE("frames fed one byte at a time decode identically") {
  const std::vector<Frame> frames = sample_frames();
  const std::string stream = encode_all(frames);
  FrameDecoder decoder;
  std::vector<Frame> got;
  for (char byte : stream) {
    decoder.feed(&byte, 1);
    REQUIRE(drain(decoder, got) == FrameDecoder::Status::NeedMore);
    // Never more than one unfinished frame is held.
    REQUIRE(decoder.buffered() <= kFrameHeaderBytes + 100 * 1024);
  }
  CHECK(got == frames);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("an unfinished tail survives while many frames pass through") {
  // Every feed ends mid-frame, so each one compacts a consumed prefix and keeps a tail.
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 2000; ++i) {
    frames.push_back({FrameType::Throw, i, patterned(i % 97, i)});
  }
  const std::string stream = encode_all(frames);
  FrameDecoder decoder;
  std::vector<Frame> got;
  const size_t chunk = 61;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    decoder.feed(stream.data() + at, std::min(chunk, stream.size() - at));
    REQUIRE(drain(decoder, got) == FrameDecoder::Status::NeedMore);
    REQUIRE(decoder.buffered() < kFrameHeaderBytes + 97 + chunk);
  }
  CHECK(got == frames);
}

TEST_CASE("a frame of the maximum length decodes") {
  const std::string body = patterned(kMaxFrameLength - kMinFrameLength, 1);
  std::string stream;
  append_frame(stream, FrameType::ThrowResult, 5, body);
  FrameDecoder decoder;
  decoder.feed(stream.data(), stream.size());
  FrameView view{};
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.body == body);
  CHECK(decoder.next(view) == FrameDecoder::Status::NeedMore);
}

TEST_CASE("an oversized length is an error as soon as the length arrives") {
  const std::string h = header(kMaxFrameLength + 1, 2, 0);
  FrameDecoder decoder;
  FrameView view{};
  decoder.feed(h.data(), 3);
  CHECK(decoder.next(view) == FrameDecoder::Status::NeedMore);
  decoder.feed(h.data() + 3, 1);  // the 4 length bytes, nothing else
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
  CHECK(decoder.failed());
  CHECK(decoder.buffered() == 0);

  // It stays failed and holds none of what follows.
  const std::string body(4096, 'a');
  decoder.feed(body.data(), body.size());
  CHECK(decoder.buffered() == 0);
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
}

TEST_CASE("a length of 0xffffffff is an error") {
  const std::string h = header(0xffffffffu, 1, 0);
  FrameDecoder decoder;
  decoder.feed(h.data(), h.size());
  FrameView view{};
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
}

TEST_CASE("a length shorter than type and id is an error") {
  for (uint32_t length = 0; length < kMinFrameLength; ++length) {
    const std::string h = header(length, 1, 0);
    FrameDecoder decoder;
    decoder.feed(h.data(), h.size());
    FrameView view{};
    INFO("length " << length);
    CHECK(decoder.next(view) == FrameDecoder::Status::Error);
    CHECK(decoder.failed());
  }
}

TEST_CASE("an unknown frame type is an error before the id arrives") {
  for (uint8_t type : {uint8_t{0}, uint8_t{8}, uint8_t{0xff}}) {
    const std::string h = header(kMinFrameLength, type, 0);
    FrameDecoder decoder;
    decoder.feed(h.data(), 5);
    FrameView view{};
    INFO("type " << int{type});
    CHECK(decoder.next(view) == FrameDecoder::Status::Error);
    CHECK(decoder.failed());
  }
}

TEST_CASE("a decoder stays failed even when valid frames follow") {
  std::string stream = header(3, 1, 0);
  append_frame(stream, FrameType::Hello, 1, "ok");
  FrameDecoder decoder;
  decoder.feed(stream.data(), stream.size());
  FrameView view{};
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
  std::string more;
  append_frame(more, FrameType::Hello, 2, "ok");
  decoder.feed(more.data(), more.size());
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
  CHECK(decoder.failed());
}

TEST_CASE("valid frames before a bad header are still delivered") {
  std::string stream;
  append_frame(stream, FrameType::Hello, 1, "a");
  append_frame(stream, FrameType::Rejected, 2, "b");
  stream += header(kMaxFrameLength + 1, 2, 3);
  FrameDecoder decoder;
  decoder.feed(stream.data(), stream.size());
  std::vector<Frame> got;
  CHECK(drain(decoder, got) == FrameDecoder::Status::Error);
  CHECK(got == std::vector<Frame>{{FrameType::Hello, 1, "a"}, {FrameType::Rejected, 2, "b"}});
}

TEST_CASE("an empty feed changes nothing") {
  FrameDecoder decoder;
  decoder.feed(nullptr, 0);
  FrameView view{};
  CHECK(decoder.next(view) == FrameDecoder::Status::NeedMore);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a frame longer than the decoder's own limit is an error as soon as its length arrives") {
  FrameDecoder decoder;
  decoder.set_max_length(17);
  CHECK(decoder.max_length() == 17);
  std::string ok;
  append_frame(ok, FrameType::Hello, 0, std::string(12, 'h'));
  decoder.feed(ok.data(), ok.size());
  FrameView view{};
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.body.size() == 12);
  const std::string big = header(18, 1, 0);
  decoder.feed(big.data(), 4);  // the length alone
  CHECK(decoder.next(view) == FrameDecoder::Status::Error);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a decoder's limit can be raised for the frames that follow") {
  std::string stream;
  append_frame(stream, FrameType::Hello, 0, "hi");
  append_frame(stream, FrameType::Throw, 1, std::string(1000, 't'));
  FrameDecoder decoder;
  decoder.set_max_length(16);
  decoder.feed(stream.data(), stream.size());
  FrameView view{};
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.type == FrameType::Hello);
  decoder.set_max_length(2000);
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.body.size() == 1000);
  decoder.set_max_length(0);  // clamped: never below an empty frame
  CHECK(decoder.max_length() == sprites::ipc::kMinFrameLength);
}

TEST_CASE("Ping and Pong are known frame types") {
  std::string stream;
  append_frame(stream, FrameType::Ping, 7, "");
  append_frame(stream, FrameType::Pong, 7, "");
  FrameDecoder decoder;
  decoder.feed(stream.data(), stream.size());
  FrameView view{};
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.type == FrameType::Ping);
  REQUIRE(decoder.next(view) == FrameDecoder::Status::Frame);
  CHECK(view.type == FrameType::Pong);
  CHECK(view.id == 7);
}
