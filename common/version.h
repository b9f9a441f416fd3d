// Version: what every binary prints for --version, so an operator can tell
// which build runs: "sprites-master 0.1.0 (a1b2c3d4e5)", the project version
// and the commit it was built from (cmake/version.cmake makes the header).
#pragma once

#include <string>
#include <string_view>

namespace sprites {

std::string_view version();  // "0.1.0"
std::string_view commit();   // "a1b2c3d4e5", "+dirty" for local changes, or "unknown"
// "<program> <version> (<commit>)"
std::string version_line(std::string_view program);

}  // namespace sprites
