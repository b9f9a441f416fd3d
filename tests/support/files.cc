// See files.h.
#include "support/files.h"

#include <fstream>
#include <sstream>

namespace sprites::test {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sprites::test
