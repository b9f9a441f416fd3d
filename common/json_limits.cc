// See json_limits.h.
#include "common/json_limits.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace sprites {
namespace {

// Counts depth; refuses a first value that is not an object and stops at the
// first level past the bound.
class DepthSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit DepthSax(size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return enter(true); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(false); }
  bool end_array() override { return leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool scalar() { return depth_ > 0; }
  bool enter(bool object) {
    if (depth_ == 0 && !object) return false;
    return ++depth_ <= max_depth_;
  }
  bool leave() {
    --depth_;
    return true;
  }

  size_t max_depth_;
  size_t depth_ = 0;
};

}  // namespace

bool is_json_object_within(std::string_view text, size_t max_depth) {
  // nlohmann's lexer takes a NUL for the end of input.
  if (text.empty() || std::memchr(text.data(), '\0', text.size()) != nullptr) return false;
  DepthSax sax(max_depth);
  return nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &sax);
}

}  // namespace sprites
