// ReadyReport: how the master tells the supervisor that it serves, on the
// pipe the supervisor hands it (--ready-fd): a line `serving` once its ports
// listen, then `workers N` each time the number of workers that said hello
// changes. The supervisor prints its ready line when the master serves with
// all its workers; it no longer polls HTTP endpoints to find out.
//
// Lines are written whole with one write(2) on a non-blocking pipe; a full or
// closed pipe (a supervisor that stopped reading, or is gone) loses the line,
// never blocks the master.
#pragma once

#include <cstddef>
#include <string>

namespace sprites::master {

class ReadyReport {
 public:
  explicit ReadyReport(int fd);  // -1: report nothing
  ~ReadyReport();
  ReadyReport(const ReadyReport&) = delete;
  ReadyReport& operator=(const ReadyReport&) = delete;

  void serving();
  void workers(size_t connected);

 private:
  void line(const std::string& text);
  int fd_;
};

}  // namespace sprites::master
