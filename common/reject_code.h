// RejectCode: the error codes of throws answered with a 4xx (docs/API.md, the
// throw's error table), as one byte. Workers count the ones they answer
// themselves and send the counts to the master by code (ipc/messages.h); the
// master adds its own and /metrics shows them as
// sprites_throws_rejected_total{code="..."}. A code outside the table (none
// today) counts as "other", so a new error never goes uncounted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sprites {

enum class RejectCode : uint8_t {
  InvalidJson = 0,
  InvalidDirection,
  InvalidSprite,
  Unauthorized,
  UnknownNode,
  TooLarge,
  RateLimited,
  MailboxFull,
  Other,
};
inline constexpr size_t kRejectCodes = 9;

std::string_view reject_code_name(RejectCode code);
// The code of an error body's "error" member ("mailbox_full"); Other if none.
RejectCode reject_code_of(std::string_view name);

}  // namespace sprites
