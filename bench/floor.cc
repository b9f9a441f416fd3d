// sprites-floor: the floor this machine's kernel puts under a relay of
// sprites' shape, measured with every line of server logic taken out.
//
// A relayed throw costs these socket calls: the client writes a POST to a
// worker over TCP; the worker reads it, answers on the same connection and
// passes a frame to the master over a Unix socket (one write per loop turn);
// the master reads the frames and writes each event to the receiving node's
// held poll over TCP; that node reads it and writes its next poll, which the
// master reads. sprites-floor makes exactly those calls with fixed-size
// records of about the relay's sizes, in three processes (a client, a
// "worker", a "master") on bare epoll: no HTTP, JSON, grid, mailbox or
// libuv. Its server CPU per record and its latency are what no implementation
// of this architecture can beat on the machine it runs on; bench/run prints
// them next to the relay's figures so the two can be read together.
//
// Dropped alternative: quoting a syscall microbenchmark (getppid, a 64-byte
// write). It leaves out the loopback TCP receive path and the wakeups, which
// are most of the cost; the floor has to run the same chain as the relay.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/version.h"
#include "client/histogram.h"
#include "common/proc_file.h"

namespace {

// Record sizes near the relay's: a throw POST with a small sprite, the
// worker's 202 answer, an IPC frame, a poll answer carrying one event, the
// next poll request.
constexpr size_t kThrowBytes = 220;
constexpr size_t kAnswerBytes = 110;
constexpr size_t kFrameBytes = 96;
constexpr size_t kEventBytes = 260;
constexpr size_t kPollBytes = 120;

// The head of every throw, frame and event record.
struct Stamp {
  uint32_t poll;    // index of the poll connection that receives the event
  uint32_t unused;
  int64_t sent_ns;  // client clock when the throw was written
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "sprites-floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void watch(int ep, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

// Writes all of buf. The peers always read, so a full socket buffer only
// waits (in poll, never spinning) and gives up after 10 s.
void write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, buf, len);
    if (n >= 0) {
      buf += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die("write");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 10'000) <= 0) die("write: peer stopped reading");
  }
}

// The unread tail of one connection's fixed-size records.
class Inbox {
 public:
  // Reads what fd has and calls each(record) per whole record; false at EOF
  // or on an error other than "nothing more now".
  template <typename Each>
  bool drain(int fd, size_t record, Each&& each) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      pending_.append(buf, static_cast<size_t>(n));
      size_t at = 0;
      for (; pending_.size() - at >= record; at += record) each(pending_.data() + at);
      pending_.erase(0, at);
      if (static_cast<size_t>(n) < sizeof buf) return true;
    }
  }

 private:
  std::string pending_;
};

// Inboxes indexed by descriptor.
class Inboxes {
 public:
  Inbox& operator[](int fd) {
    if (static_cast<size_t>(fd) >= boxes_.size()) boxes_.resize(static_cast<size_t>(fd) + 1);
    return boxes_[static_cast<size_t>(fd)];
  }

 private:
  std::vector<Inbox> boxes_;
};

int accept_one(int ep, int listener) {
  int c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  if (c < 0) return -1;
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  watch(ep, c);
  return c;
}

// The loop both server processes run: a new connection on `listener` goes to
// `accepted`; any other ready descriptor to `ready`, which returns false when
// its peer has gone (the client is done, so the process ends); `turn_done`
// runs after each batch of events.
template <typename Accepted, typename Ready, typename TurnDone>
[[noreturn]] void serve(int ep, int listener, Accepted&& accepted, Ready&& ready, TurnDone&& turn_done) {
  epoll_event events[256];
  for (;;) {
    int n = ::epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int c = accept_one(ep, listener);
        if (c >= 0) accepted(c);
      } else if (!ready(fd)) {
        ::_exit(0);
      }
    }
    turn_done();
  }
}

// The "worker": answers each throw on its connection and forwards a frame to
// the master; all frames of a loop turn go in one write, as the relay's do.
[[noreturn]] void run_worker(int listener, int ipc) {
  int ep = ::epoll_create1(0);
  watch(ep, listener);
  Inboxes inboxes;
  std::string frames;
  char answer[kAnswerBytes] = {};
  char frame[kFrameBytes] = {};
  serve(
      ep, listener, [](int) {},
      [&](int fd) {
        return inboxes[fd].drain(fd, kThrowBytes, [&](const char* record) {
          std::memcpy(frame, record, sizeof(Stamp));
          frames.append(frame, kFrameBytes);
          write_all(fd, answer, kAnswerBytes);
        });
      },
      [&] {
        if (frames.empty()) return;
        write_all(ipc, frames.data(), frames.size());
        frames.clear();
      });
}

// The "master": writes each frame's event to its poll connection, reads and
// drops the next polls.
[[noreturn]] void run_master(int listener, int ipc) {
  int ep = ::epoll_create1(0);
  watch(ep, listener);
  watch(ep, ipc);
  std::vector<int> polls;  // in accept order: the client connects them in order
  Inboxes inboxes;
  char event[kEventBytes] = {};
  auto relay = [&](const char* record) {
    Stamp s;
    std::memcpy(&s, record, sizeof s);
    // The client connected every poll before its first throw: one not yet
    // taken waits in the accept queue.
    while (s.poll >= polls.size()) {
      int c = accept_one(ep, listener);
      if (c < 0) die("accept: a poll connection is missing");
      polls.push_back(c);
    }
    std::memcpy(event, record, sizeof s);
    write_all(polls[s.poll], event, kEventBytes);
  };
  serve(
      ep, listener, [&](int c) { polls.push_back(c); },
      [&](int fd) {
        return fd == ipc ? inboxes[fd].drain(fd, kFrameBytes, relay)
                         : inboxes[fd].drain(fd, kPollBytes, [](const char*) {});
      },
      [] {});
}

int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (::listen(fd, 4096) != 0) die("listen");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::string stat = sprites::read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return 0;
  // After ") " come state (field 3) ... utime (14) and stime (15).
  const char* p = stat.c_str() + at + 2;
  for (int field = 3; field < 14 && *p; ++p)
    if (*p == ' ') ++field;
  char* end = nullptr;
  double utime = static_cast<double>(std::strtoull(p, &end, 10));
  double stime = static_cast<double>(std::strtoull(end, nullptr, 10));
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

struct Options {
  double rate = 0;      // open loop: records per second
  uint32_t closed = 0;  // closed loop: records in flight
  uint32_t nodes = 5000;
  double duration_s = 8;
  double warmup_s = 1;
};

// The client: holds one throw and one poll connection per node, throws from
// node i to node i+1 round robin, and measures the window after the warmup.
int run_client(const Options& o, uint16_t worker_port, uint16_t master_port, pid_t worker, pid_t master) {
  std::vector<int> poll_fd(o.nodes), throw_fd(o.nodes);
  for (uint32_t i = 0; i < o.nodes; ++i) poll_fd[i] = connect_loopback(master_port);
  for (uint32_t i = 0; i < o.nodes; ++i) throw_fd[i] = connect_loopback(worker_port);
  int ep = ::epoll_create1(0);
  int highest_fd = std::max(*std::max_element(poll_fd.begin(), poll_fd.end()),
                            *std::max_element(throw_fd.begin(), throw_fd.end()));
  std::vector<bool> is_poll(static_cast<size_t>(highest_fd) + 1, false);
  for (uint32_t i = 0; i < o.nodes; ++i) {
    watch(ep, poll_fd[i]);
    watch(ep, throw_fd[i]);
    is_poll[static_cast<size_t>(poll_fd[i])] = true;
  }
  Inboxes inboxes;
  sprites::client::Histogram latency;
  char throw_record[kThrowBytes] = {};
  char poll_record[kPollBytes] = {};
  uint64_t next = 0, sent = 0, delivered = 0, answered = 0;

  const int64_t start = now_ns();
  const int64_t window_start = start + static_cast<int64_t>(o.warmup_s * 1e9);
  const int64_t window_end = window_start + static_cast<int64_t>(o.duration_s * 1e9);
  const int64_t drain_end = window_end + 5'000'000'000;  // bounded: 5 s for the last events
  bool in_window = false, sending = true;
  uint64_t window_delivered = 0;
  double server_cpu0 = 0, client_cpu0 = 0, server_cpu = 0, client_cpu = 0;

  auto throw_one = [&] {
    Stamp s{static_cast<uint32_t>((next + 1) % o.nodes), 0, now_ns()};
    std::memcpy(throw_record, &s, sizeof s);
    write_all(throw_fd[next % o.nodes], throw_record, kThrowBytes);
    ++next;
    ++sent;
  };
  if (o.closed > 0)
    for (uint32_t i = 0; i < o.closed; ++i) throw_one();

  double owed = 0;
  int64_t tick = start;  // open loop: throws go out on 1 ms ticks, as the swarm's do
  epoll_event events[256];
  for (;;) {
    int64_t t = now_ns();
    if (!in_window && sending && t >= window_start) {
      in_window = true;
      server_cpu0 = cpu_seconds(worker) + cpu_seconds(master);
      client_cpu0 = own_cpu_seconds();
    }
    if (in_window && t >= window_end) {
      in_window = false;
      sending = false;
      server_cpu = cpu_seconds(worker) + cpu_seconds(master) - server_cpu0;
      client_cpu = own_cpu_seconds() - client_cpu0;
    }
    if (!sending && (delivered >= sent || t >= drain_end)) break;
    if (sending && o.rate > 0 && t >= tick) {
      owed += o.rate / 1000.0;
      for (; owed >= 1; owed -= 1) throw_one();
      tick += 1'000'000;
    }
    int64_t wait_ns = sending && o.rate > 0 ? std::max<int64_t>(0, tick - now_ns()) : 100'000'000;
    timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    int n = ::epoll_pwait2(ep, events, 256, &timeout, nullptr);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (!is_poll[static_cast<size_t>(fd)]) {
        inboxes[fd].drain(fd, kAnswerBytes, [&](const char*) { ++answered; });
        continue;
      }
      inboxes[fd].drain(fd, kEventBytes, [&](const char* record) {
        Stamp s;
        std::memcpy(&s, record, sizeof s);
        ++delivered;
        if (in_window && s.sent_ns >= window_start) {
          latency.record(static_cast<uint64_t>(now_ns() - s.sent_ns));
          ++window_delivered;
        }
        write_all(fd, poll_record, kPollBytes);
        if (o.closed > 0 && sending) throw_one();
      });
    }
  }
  auto ms = [&](double p) { return static_cast<double>(latency.percentile(p)) / 1e6; };
  double per_record = static_cast<double>(std::max<uint64_t>(window_delivered, 1));
  std::printf(
      "{\"nodes\":%u,\"rate\":%g,\"closed\":%u,\"sent\":%llu,\"answered\":%llu,\"delivered\":%llu,"
      "\"per_s\":%.0f,\"server_cpu_us_per_record\":%.1f,\"client_cpu_us_per_record\":%.1f,"
      "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f}}\n",
      o.nodes, o.rate, o.closed,
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered),
      static_cast<unsigned long long>(delivered), static_cast<double>(window_delivered) / o.duration_s,
      server_cpu * 1e6 / per_record, client_cpu * 1e6 / per_record, ms(50), ms(90), ms(99), ms(99.9), ms(100));
  return delivered == sent && answered == sent ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"sprites-floor: the kernel's floor under a relay of sprites' shape on this machine (loopback)",
               "sprites-floor"};
  app.set_version_flag("--version", sprites::version_line("sprites-floor"), "print the version and the commit, and exit");
  auto* rate = app.add_option("--rate", o.rate, "open loop: records per second")->check(CLI::Range(1.0, 1e7));
  auto* closed = app.add_option("--closed", o.closed, "closed loop: records in flight")->check(CLI::Range(1u, 100000u));
  rate->excludes(closed);
  app.add_option("--nodes", o.nodes, "nodes (one throw and one poll connection each)")
      ->check(CLI::Range(2u, 1000000u))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "measured window, seconds")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "load before the window, seconds")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  try {
    app.parse(argc, argv);
    if (!*rate && !*closed) throw CLI::RequiredError("--rate or --closed");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.closed > o.nodes) {
    std::fprintf(stderr, "sprites-floor: --closed cannot exceed --nodes\n");
    return 2;
  }
  // The client holds two sockets per node.
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur != RLIM_INFINITY && 2ull * o.nodes + 64 > lim.rlim_cur) {
    std::fprintf(stderr, "sprites-floor: --nodes %u needs %llu descriptors; the limit is %llu\n", o.nodes,
                 2ull * o.nodes + 64, static_cast<unsigned long long>(lim.rlim_cur));
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);

  int ipc[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, ipc) != 0) die("socketpair");
  uint16_t worker_port = 0, master_port = 0;
  int worker_listener = listen_loopback(worker_port);
  int master_listener = listen_loopback(master_port);
  pid_t worker = ::fork();
  if (worker < 0) die("fork");
  if (worker == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ipc[1]);
    ::close(master_listener);
    run_worker(worker_listener, ipc[0]);
  }
  pid_t master = ::fork();
  if (master < 0) die("fork");
  if (master == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ipc[0]);
    ::close(worker_listener);
    run_master(master_listener, ipc[1]);
  }
  ::close(ipc[0]);
  ::close(ipc[1]);
  ::close(worker_listener);
  ::close(master_listener);

  int status = run_client(o, worker_port, master_port, worker, master);
  ::kill(worker, SIGKILL);
  ::kill(master, SIGKILL);
  ::waitpid(worker, nullptr, 0);
  ::waitpid(master, nullptr, 0);
  return status;
}
