// See version.h. Only this file sees the generated header, so a new commit
// recompiles one file.
#include "common/version.h"

#include "sprites_build.h"

namespace sprites {

std::string_view version() { return SPRITES_VERSION; }
std::string_view commit() { return SPRITES_COMMIT; }

std::string version_line(std::string_view program) {
  std::string line(program);
  line.append(" ").append(version()).append(" (").append(commit()).append(")");
  return line;
}

}  // namespace sprites
