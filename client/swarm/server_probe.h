// ServerProbe: the relay's processes as /proc shows them — which pids are the
// master and the workers, their resident memory and their CPU time.
//
// Pids come from --master-pid / --worker-pids, or are found by reading
// /proc/*/cmdline for programs named sprites-master / sprites-worker whose
// arguments carry the same --master-port (the supervisor hands every child the
// resolved port, also when it was started with port 0). Reading only: nothing
// here signals or otherwise touches those processes.
//
// RSS is /proc/PID/statm's resident pages; CPU is utime + stime of
// /proc/PID/stat (clock ticks, so a 10 ms grain: fine over a window of
// seconds). A process that went away reads as nullopt, not as zero.
//
// Dropped alternative: the relay's own /v1/stats (rss_bytes). It covers the
// master only, not the workers, and has no CPU time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace sprites::swarm {

struct ServerPids {
  pid_t master = 0;  // 0: unknown
  std::vector<pid_t> workers;
  bool known() const { return master != 0 || !workers.empty(); }
};

struct ProcessSample {
  uint64_t rss_bytes = 0;
  double cpu_seconds = 0;
};

// The relay whose master listens on `master_port`, from /proc.
ServerPids find_server_pids(uint16_t master_port);

std::optional<ProcessSample> sample_process(pid_t pid);

// The sum over the master and every worker; nullopt when none could be read.
struct ServerSample {
  std::optional<ProcessSample> master;
  uint64_t workers_rss_bytes = 0;
  double workers_cpu_seconds = 0;
  size_t workers_read = 0;
  double cpu_seconds() const { return (master ? master->cpu_seconds : 0) + workers_cpu_seconds; }
};
ServerSample sample_server(const ServerPids& pids);

}  // namespace sprites::swarm
