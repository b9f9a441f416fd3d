// IPC frames for the black-box tests that play a hostile or misbehaving peer
// on the master's IPC socket: built with the relay's own codec (ipc/), so
// they follow its wire format.
#pragma once

#include <cstdint>
#include <string>

#include "ipc/frame.h"
#include "support/http_client.h"

namespace sprites::test {

std::string ipc_frame(ipc::FrameType type, uint32_t id, const std::string& body);
// A Hello of this build, naming this process and a body limit.
std::string hello_frame(uint32_t max_body_bytes = 16384);
// A valid Throw of `thrower`'s, to its right, with sprite id `id`, that the
// master may take until `expires_at_ms` (CLOCK_MONOTONIC ms).
std::string throw_frame(const Node& thrower, const std::string& id, uint64_t expires_at_ms);
// A frame header announcing `length` bytes (type Hello, id 0) and nothing more.
std::string frame_header(uint32_t length, uint8_t type = 1);

}  // namespace sprites::test
