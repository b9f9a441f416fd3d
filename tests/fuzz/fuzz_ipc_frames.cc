// Fuzzes the IPC frame decoder (ipc/frame.h) and the message decoders
// (ipc/messages.h) with the byte stream a peer could send.
//
// Input: 5 control bytes (two u16 split positions, as fractions of the rest,
// and the decoder's frame-length limit: 0 for the largest, else 5 + 64 x the
// byte, as the master sets a small one before a worker's Hello) and then the
// stream. The stream is decoded four ways: fed whole; fed in
// three pieces cut at the fuzzer's two positions; fed one byte at a time; and
// by a reference decoder written here from the wire format in frame.h (no
// buffering, one pass over the whole stream). All four must yield the same
// frames, the same verdict (failed or not) and, when not failed, the same
// buffered tail: a frame split across reads anywhere must decode like a whole
// one, and a bad length or type must be refused as soon as its bytes are in.
//
// Each frame must re-encode with ipc::append_frame to exactly its bytes in the
// stream. Each body is given to all four message decoders; a body a decoder
// accepts must re-encode with ipc::encode to the same bytes (every message
// layout is canonical: fixed-width integers, length-prefixed strings, has_id
// only 0 or 1), and its string views must lie inside the body.
//
// Seeds: the files in corpus/fuzz_ipc_frames/ are streams of frames built with
// append_frame + encode, written by this binary when SPRITES_FUZZ_WRITE_SEEDS
// names a directory (see write_seeds below), so they follow the codec if its
// format changes.
//
// Dropped alternative: FuzzedDataProvider for the split positions. It takes
// integers from the end of the input, which would cut into the frames of the
// seeds; a fixed prefix leaves the stream intact.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/direction.h"
#include "ipc/frame.h"
#include "ipc/messages.h"

namespace {

using sprites::ipc::FrameDecoder;
using sprites::ipc::FrameType;
using sprites::ipc::FrameView;
using sprites::ipc::kFrameHeaderBytes;
using sprites::ipc::kMaxFrameLength;
using sprites::ipc::kMinFrameLength;

constexpr size_t kControlBytes = 5;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_ipc_frames: %s\n", what);
  std::abort();
}

#define CHECK(cond)                               \
  do {                                            \
    if (!(cond)) fail("check failed: " #cond);    \
  } while (0)

struct Frame {
  uint8_t type;
  uint32_t id;
  std::string body;
  bool operator==(const Frame&) const = default;
};

struct Outcome {
  std::vector<Frame> frames;
  bool failed = false;
  size_t buffered = 0;  // meaningful only when not failed
  bool operator==(const Outcome& o) const {
    return frames == o.frames && failed == o.failed && (failed || buffered == o.buffered);
  }
};

uint32_t get_u32(const char* p) {
  return static_cast<uint32_t>(static_cast<uint8_t>(p[0])) | static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3])) << 24;
}

// The wire format of frame.h, read in one pass over a complete stream.
Outcome reference_decode(std::string_view s, uint32_t max_length) {
  Outcome out;
  while (s.size() >= 4) {
    const uint32_t length = get_u32(s.data());
    if (length < kMinFrameLength || length > max_length) {
      out.failed = true;
      return out;
    }
    if (s.size() >= 5) {
      const auto type = static_cast<uint8_t>(s[4]);
      if (type < static_cast<uint8_t>(FrameType::Hello) || type > static_cast<uint8_t>(sprites::ipc::kLastFrameType)) {
        out.failed = true;
        return out;
      }
    }
    if (s.size() < 4 + static_cast<size_t>(length)) break;
    out.frames.push_back(Frame{static_cast<uint8_t>(s[4]), get_u32(s.data() + 5),
                               std::string(s.substr(kFrameHeaderBytes, length - kMinFrameLength))});
    s.remove_prefix(4 + static_cast<size_t>(length));
  }
  out.buffered = s.size();
  return out;
}

// Feeds `pieces` one after another, draining the decoder after each as the
// channel does.
Outcome decode_pieces(const std::vector<std::string_view>& pieces, uint32_t max_length) {
  Outcome out;
  FrameDecoder decoder;
  decoder.set_max_length(max_length);
  for (std::string_view piece : pieces) {
    decoder.feed(piece.data(), piece.size());
    FrameView f{};
    FrameDecoder::Status status;
    while ((status = decoder.next(f)) == FrameDecoder::Status::Frame) {
      out.frames.push_back(Frame{static_cast<uint8_t>(f.type), f.id, std::string(f.body)});
    }
    CHECK((status == FrameDecoder::Status::Error) == decoder.failed());
    // The bound frame.h promises for a drained decoder.
    CHECK(decoder.buffered() <= kFrameHeaderBytes + max_length);
  }
  out.failed = decoder.failed();
  out.buffered = decoder.buffered();
  if (out.failed) CHECK(out.buffered == 0);  // a failed decoder drops its buffer
  return out;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Every decoder on every body: accepted bodies re-encode to themselves.
void check_messages(std::string_view body) {
  using namespace sprites::ipc;
  HelloMessage hello;
  if (decode(body, hello)) CHECK(encode(hello) == body);
  RejectedMessage rejected;
  if (decode(body, rejected)) {
    CHECK(rejected.count >= 1 && rejected.count <= kMaxRejectedPerFrame);
    CHECK(static_cast<size_t>(rejected.code) < sprites::kRejectCodes);
    CHECK(encode(rejected) == body);
  }
  FiguresMessage figures;
  if (decode(body, figures)) CHECK(encode(figures) == body);
  ThrowResultMessage result;
  if (decode(body, result)) {
    CHECK(inside(result.body, body));
    CHECK(encode(result) == body);
  }
  ThrowMessage thrown;
  if (decode(body, thrown)) {
    CHECK(inside(thrown.node, body) && inside(thrown.token, body) && inside(thrown.sprite_id, body) &&
          inside(thrown.sprite, body));
    CHECK(thrown.node.size() <= kMaxNodeIdBytes && thrown.token.size() <= 0xffff &&
          thrown.sprite_id.size() <= kMaxSpriteIdBytes);
    CHECK(encode(thrown) == body);
  }
}

// ---- seeds ------------------------------------------------------------------

// `control` defaults to no split: both positions at the end of the stream.
void write_seed(const std::string& dir, const std::string& name, const std::string& stream,
                std::string_view control = std::string_view("\xff\xff\xff\xff\x00", kControlBytes)) {
  std::string bytes(control);
  bytes += stream;
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

void write_seeds(const std::string& dir) {
  using namespace sprites::ipc;
  using sprites::Direction;
  const std::string sprite = R"({"kind":"ball","x":0.5,"vx":-3,"big":12345678901234567890})";
  ThrowMessage t{1700000000000, Direction::Right, "Qm3x0c", "tok-0123456789abcdef", true, "s-991", sprite};
  ThrowMessage t_noid{0, Direction::Up, "Zp81aa", "secret", false, "", "{}"};
  std::string s;

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{4242, kIpcVersion, 16384}));
  write_seed(dir, "hello", s);
  // Under the limit the master sets before a Hello (5 + 64 bytes).
  write_seed(dir, "hello-small-limit", s, std::string_view("\xff\xff\xff\xff\x01", kControlBytes));

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{4242, kIpcVersion, 16384}));
  append_frame(s, FrameType::Ping, 1, "");
  append_frame(s, FrameType::Pong, 1, "");
  append_frame(s, FrameType::Throw, 2, encode(t));  // over the small limit
  write_seed(dir, "ping-pong-then-too-long", s, std::string_view("\xff\xff\xff\xff\x01", kControlBytes));

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{1234, kIpcVersion, 16384}));
  append_frame(s, FrameType::Throw, 1, encode(t));
  append_frame(s, FrameType::Throw, 2, encode(t_noid));
  write_seed(dir, "worker-hello-then-throws", s);

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{1234, kIpcVersion, 16384}));
  append_frame(s, FrameType::Figures, 0, encode(FiguresMessage{19000, 123456789, 4096}));
  append_frame(s, FrameType::Rejected, 0, encode(RejectedMessage{sprites::RejectCode::MailboxFull, 65536}));
  write_seed(dir, "worker-figures-and-rejections", s);

  s.clear();
  append_frame(s, FrameType::ThrowResult, 1, encode(ThrowResultMessage{202, R"({"to":{"node":"Zp81aa","name":"desktop"}})"}));
  append_frame(s, FrameType::ThrowResult, 2,
               encode(ThrowResultMessage{404, R"({"error":"unknown_node","message":"no node with this id"})"}));
  append_frame(s, FrameType::ThrowResult, 3,
               encode(ThrowResultMessage{429, R"({"error":"mailbox_full","message":"the receiver's mailbox is full"})"}));
  write_seed(dir, "master-throw-results", s);

  s.clear();
  append_frame(s, FrameType::Rejected, 0, encode(RejectedMessage{sprites::RejectCode::InvalidJson, 3}));
  append_frame(s, FrameType::Throw, 0xffffffffu,
               encode(ThrowMessage{~0ull, Direction::Down, std::string(255, 'n'), std::string(300, 't'), true,
                                   std::string(256, 'i'), "{\"a\":[1,2,{\"b\":null}]}"}));
  write_seed(dir, "rejected-and-longest-ids", s);

  s.clear();
  for (uint32_t i = 0; i < 8; ++i) {
    append_frame(s, FrameType::Throw, i,
                 encode(ThrowMessage{i, static_cast<Direction>(i % 4), "n" + std::to_string(i), "tok", i % 2 == 1,
                                     i % 2 == 1 ? "id" + std::to_string(i) : "", "{\"i\":" + std::to_string(i) + "}"}));
  }
  write_seed(dir, "batch-of-throws", s);

  s.clear();
  append_frame(s, FrameType::Throw, 7, encode(t));
  // Cut inside the header and inside the body.
  write_seed(dir, "throw-split", s, std::string_view("\x00\x02\x00\x80\x00", kControlBytes));

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{1, kIpcVersion, 16384}));
  s += std::string("\x04\x00\x00\x00\x02", 5);  // length 4: below the minimum
  write_seed(dir, "bad-length", s);

  s.clear();
  append_frame(s, FrameType::Hello, 0, encode(HelloMessage{1, kIpcVersion, 16384}));
  s += std::string("\x09\x00\x00\x00\x08", 5);  // type 8: unknown
  write_seed(dir, "bad-type", s);

  s.clear();
  append_frame(s, FrameType::ThrowResult, 9, encode(ThrowResultMessage{202, "{}"}));
  s += std::string("\x00\x00\x10\x00\x03", 5);  // a 1 MiB frame announced, not sent
  write_seed(dir, "partial-big-frame", s);

  s.clear();
  append_frame(s, FrameType::Throw, 5,
               std::string(8, '\0') + std::string("\x04\x01x\x01\x00y\x02\x00\x00\x00\x00\x00\x00", 13));
  write_seed(dir, "throw-bad-direction-and-has-id", s);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SPRITES_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kControlBytes) return -1;  // not a useful input: keep it out of the corpus
  const std::string owned(reinterpret_cast<const char*>(data) + kControlBytes, size - kControlBytes);
  const std::string_view stream = owned;
  const size_t n = stream.size();
  size_t cut1 = (static_cast<size_t>(data[0] | data[1] << 8) * (n + 1)) >> 16;
  size_t cut2 = (static_cast<size_t>(data[2] | data[3] << 8) * (n + 1)) >> 16;
  if (cut1 > cut2) std::swap(cut1, cut2);

  const uint32_t max_length = data[4] == 0 ? kMaxFrameLength : kMinFrameLength + 64u * data[4];

  const Outcome reference = reference_decode(stream, max_length);
  const Outcome whole = decode_pieces({stream}, max_length);
  const Outcome split =
      decode_pieces({stream.substr(0, cut1), stream.substr(cut1, cut2 - cut1), stream.substr(cut2)}, max_length);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < n; ++i) bytes.push_back(stream.substr(i, 1));
  const Outcome dribbled = decode_pieces(bytes, max_length);

  if (!(whole == reference)) fail("decoding the whole stream disagrees with the wire format");
  if (!(split == whole)) fail("a stream cut in three decodes differently from the whole");
  if (!(dribbled == whole)) fail("a stream fed byte by byte decodes differently from the whole");

  // Frames re-encode to exactly the bytes they came from.
  std::string encoded;
  for (const Frame& f : whole.frames) {
    CHECK(f.body.size() + kMinFrameLength <= max_length);
    sprites::ipc::append_frame(encoded, static_cast<FrameType>(f.type), f.id, f.body);
    check_messages(f.body);
  }
  CHECK(stream.substr(0, encoded.size()) == encoded);
  if (!whole.failed) CHECK(encoded.size() + whole.buffered == n);
  return 0;
}
