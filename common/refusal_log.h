// RefusalLog: one `refused` log line per error answer (status >= 400) on
// either port, with the status, the error code and the peer's address, so an
// operator sees who is refused and why (docs/API.md "Logs").
//
// A peer that is refused on purpose, thousands of times a second, must not
// turn the log into the bottleneck or flood the journal: at most
// kLinesPerSecond such lines are written per second and process; the rest
// are counted and reported in one `refused_suppressed` line when the next
// second's first refusal is logged. 5xx answers are warnings, 4xx info.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string_view>

namespace sprites::http {

inline constexpr uint32_t kRefusalLinesPerSecond = 20;

// `body` is the answer's JSON body, whose "error" member names the code.
void log_refusal(uv_tcp_t* tcp, uint16_t status, std::string_view body);

}  // namespace sprites::http
