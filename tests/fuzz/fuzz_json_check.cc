// Fuzzes client::is_json, the client's check of every poll answer, against its
// contract: the same verdict as nlohmann's accept() on every input, corners
// included (byte order mark, UTF-8 and surrogate rules, number overflow, a NUL
// byte where a token would start). Any disagreement aborts with both verdicts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "client/json_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool ours = sprites::client::is_json(text);
  bool reference = nlohmann::json::accept(text.begin(), text.end());
  if (ours != reference) {
    std::fprintf(stderr, "fuzz_json_check: is_json says %d, nlohmann::accept says %d (%zu bytes)\n", ours, reference,
                 size);
    std::abort();
  }
  return 0;
}
