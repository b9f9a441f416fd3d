// See ipc_frames.h.
#include "support/ipc_frames.h"

#include <unistd.h>

#include "ipc/messages.h"

namespace sprites::test {

std::string ipc_frame(ipc::FrameType type, uint32_t id, const std::string& body) {
  std::string out;
  ipc::append_frame(out, type, id, body);
  return out;
}

std::string hello_frame(uint32_t max_body_bytes) {
  ipc::HelloMessage hello;
  hello.pid = static_cast<uint32_t>(::getpid());
  hello.max_body_bytes = max_body_bytes;
  return ipc_frame(ipc::FrameType::Hello, 0, ipc::encode(hello));
}

std::string throw_frame(const Node& thrower, const std::string& id, uint64_t expires_at_ms) {
  ipc::ThrowMessage t;
  t.expires_at_ms = expires_at_ms;
  t.direction = Direction::Right;
  t.node = thrower.id;
  t.token = thrower.token;
  t.has_id = true;
  t.sprite_id = id;
  t.sprite = "{}";
  return ipc_frame(ipc::FrameType::Throw, 7, ipc::encode(t));
}

std::string frame_header(uint32_t length, uint8_t type) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>(length >> (8 * i) & 0xff);
  out.push_back(static_cast<char>(type));
  out.append(4, '\0');
  return out;
}

}  // namespace sprites::test
