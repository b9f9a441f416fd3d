// See reject_code.h.
#include "common/reject_code.h"

namespace sprites {
namespace {

constexpr std::string_view kNames[kRejectCodes] = {"invalid_json", "invalid_direction", "invalid_sprite",
                                                   "unauthorized", "unknown_node",      "too_large",
                                                   "rate_limited", "mailbox_full",      "other"};

}  // namespace

std::string_view reject_code_name(RejectCode code) {
  const auto i = static_cast<size_t>(code);
  return i < kRejectCodes ? kNames[i] : kNames[kRejectCodes - 1];
}

RejectCode reject_code_of(std::string_view name) {
  for (size_t i = 0; i + 1 < kRejectCodes; ++i) {
    if (kNames[i] == name) return static_cast<RejectCode>(i);
  }
  return RejectCode::Other;
}

}  // namespace sprites
