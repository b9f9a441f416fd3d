// read_proc_file: the whole of a small kernel file (/proc/<pid>/stat, statm,
// status, cmdline). Such files report a size of 0, so they are read until EOF
// in chunks rather than by their size. Used by the swarm to find and measure
// the relay's processes and by the tests to watch the processes they start.
#pragma once

#include <string>

namespace sprites {

// The file's bytes; "" when it cannot be opened (e.g. the process is gone).
std::string read_proc_file(const std::string& path);

}  // namespace sprites
