// See server_probe.h.
#include "client/swarm/server_probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <string>

#include "common/proc_file.h"

namespace sprites::swarm {
namespace {

std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool has_master_port(const std::vector<std::string>& args, const std::string& port) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--master-port" && i + 1 < args.size() && args[i + 1] == port) return true;
    if (args[i] == "--master-port=" + port) return true;
  }
  return false;
}

}  // namespace

ServerPids find_server_pids(uint16_t master_port) {
  ServerPids out;
  std::string port = std::to_string(master_port);
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    std::vector<std::string> args = split_nul(read_proc_file("/proc/" + std::string(entry->d_name) + "/cmdline"));
    if (args.empty() || !has_master_port(args, port)) continue;
    std::string program = basename_of(args[0]);
    if (program == "sprites-master" && out.master == 0) out.master = static_cast<pid_t>(pid);
    else if (program == "sprites-worker") out.workers.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return out;
}

std::optional<ProcessSample> sample_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::string base = "/proc/" + std::to_string(pid);
  std::string statm = read_proc_file(base + "/statm");
  std::string stat = read_proc_file(base + "/stat");
  if (statm.empty() || stat.empty()) return std::nullopt;
  std::istringstream m(statm);
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(m >> size_pages >> resident_pages)) return std::nullopt;
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream s(stat.substr(close_paren + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (s >> field); ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  long ticks = ::sysconf(_SC_CLK_TCK);
  long page = ::sysconf(_SC_PAGESIZE);
  ProcessSample out;
  out.rss_bytes = resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
  out.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
  return out;
}

ServerSample sample_server(const ServerPids& pids) {
  ServerSample out;
  if (pids.master != 0) out.master = sample_process(pids.master);
  for (pid_t w : pids.workers) {
    if (auto s = sample_process(w)) {
      out.workers_rss_bytes += s->rss_bytes;
      out.workers_cpu_seconds += s->cpu_seconds;
      ++out.workers_read;
    }
  }
  return out;
}

}  // namespace sprites::swarm
