// Files the black-box tests read back whole: the relay's logs, its snapshot,
// the pages and certificates it serves.
#pragma once

#include <string>

namespace sprites::test {

// The whole file as bytes; "" when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace sprites::test
