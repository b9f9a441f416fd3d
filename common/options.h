// Options: the one option table of the relay (docs/API.md "Options"): the
// master, the workers and the supervisor all take their options from it. Every
// process accepts every option and ignores those that are not its own, so the
// supervisor passes its whole command line through; it learns what it needs
// (host, ports, worker count, log level) from `sprites-master --print-config`,
// which prints the options resolved from flags, environment and defaults as
// one JSON object. An option given twice takes the last value, so the
// supervisor can append what it resolved (bound ports, the IPC path).
//
// Each option is a `--name value` flag or a `SPRITES_NAME` environment variable;
// a flag wins. CLI11 does the parsing (flags, env fallbacks, range checks, --help)
// instead of a hand-written parser: it is one well-kept header-only Debian
// package and its error messages name the offending flag.
//
// Some options are internal to the supervisor/child contract and not in the
// protocol's table: --master-fd / --worker-fd / --admin-fd / --ipc-fd hand a listening
// socket the supervisor already holds to the child (so port 0 and restarts
// keep one port, and the IPC path is never free between two masters),
// --ipc-handoff-fd asks the master binary to create the IPC socket and pass it
// back (ipc/socket_file.h), and --ready-fd is where the master reports that it
// serves and how many workers it has (master/ready_report.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/tls.h"

namespace sprites {

struct Options {
  std::string host = "0.0.0.0";
  uint16_t master_port = 8000;
  uint16_t worker_port = 8001;
  unsigned workers = 0;  // the supervisor's (--print-config reports it); 0 until parsed: the number of CPUs
  std::string ipc_path;  // default_ipc_path() when not given
  uint32_t grid_width = 8;
  uint32_t poll_timeout_ms = 60000;
  uint32_t node_ttl_ms = 30000;
  uint32_t mailbox_limit = 256;
  double rate_limit = 50;  // throws per second per node; 0 disables
  uint32_t max_body_bytes = 16384;
  uint64_t max_nodes = 0;  // 0: as many as the file limit allows
  uint32_t request_timeout_ms = 10000;  // receiving one request, first byte to last; 0 = none
  uint32_t idle_timeout_ms = 60000;     // a connection with nothing owed or being received; 0 = none
  std::string log_level = "info";
  std::string log_format = "auto";  // json, text, or auto: JSON unless stderr is a terminal
  uint32_t master_timeout_ms = 1000;  // worker: a throw the master has not answered by then gets 503
  // Clusters (docs/API.md "Clusters"). relay_id is resolved when empty: 6
  // random characters, so every start of a relay is a new relay unless the
  // user (or the supervisor, across its masters) pins it.
  std::string nats;            // NATS server URL(s), comma-separated; empty: no cluster
  std::string cluster = "sprites";
  std::string relay_id;
  std::string public_master;   // empty: from --host and the bound master port
  std::string public_worker;   // empty: from --host and --worker-port
  uint32_t relay_timeout_ms = 3000;
  std::string web_dir;  // master: the pages' folder; empty: beside the build, else /usr/share/sprites/web
  // Operator endpoints (docs/API.md "Operator endpoints"): on the master port
  // unless admin_port is set (0: chosen by the system), bound on admin_host.
  int32_t admin_port = -1;
  std::string admin_host = "127.0.0.1";
  std::string admin_token;  // empty: none needed; never printed
  // Join control (docs/API.md "Join control"). join_key is resolved from
  // --join-key or from the file --join-key-file names (common/key_file.h);
  // empty: joins need no ticket.
  std::string join_key;
  std::string join_key_file;
  double join_rate_limit = 0;  // joins per second per source address; 0 disables
  // TLS (docs/API.md "TLS"): both or neither. Loaded while the options are
  // resolved, so a certificate that does not load is a usage error of every
  // process (and of --print-config and --check-config, which the supervisor
  // runs before it starts or restarts anything).
  std::string tls_cert;
  std::string tls_key;
  std::shared_ptr<const tls::TlsContext> tls;  // null: plain HTTP
  int master_fd = -1;  // inherited listening socket for the master port
  int worker_fd = -1;  // inherited listening socket for the worker port
  int admin_fd = -1;   // inherited listening socket for the admin port
  int ipc_fd = -1;     // inherited IPC listening socket (master)
  int ipc_handoff_fd = -1;  // master: create the IPC socket, send it over this fd, exit
  int ready_fd = -1;        // master: report serving and worker counts here
  bool print_config = false;
  bool check_config = false;  // resolve (and load what the options name), then exit 0 or 2
};

// Parses argv and SPRITES_* environment variables into `out`. Returns -1 when
// the process should go on, or an exit code (0 after --help, 2 on a bad option)
// after printing the reason. `program` names the process in --help.
int parse_options(int argc, char** argv, const char* program, Options& out);

// The options as one JSON object, names as on the command line
// ({"host":..., "master-port":..., ...}): what --print-config prints.
// Secrets are never printed, only whether they are set ("admin-token-set",
// "join-key-set").
std::string options_json(const Options& options);

// The default IPC path: sprites-<master port>.sock (with master port 0,
// sprites-<pid>.sock where pid is the given one) in the first of
// $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=), $XDG_RUNTIME_DIR (when it
// is a directory) and /tmp/sprites-<euid> (created 0700 when the socket is
// made). The shared protocol names /tmp itself as the last resort; a socket there can
// be taken over by another local user, so the relay keeps it in a directory
// of its own (common/private_dir.h).
std::string default_ipc_path(uint16_t master_port, long pid);

// docs/API.md "Clusters": the relay id and cluster name alphabets, and the
// shape of a public URL (http:// or https://, host:port, no path, no
// trailing /).
bool valid_relay_id(std::string_view id);
bool valid_cluster_name(std::string_view name);
bool valid_public_url(std::string_view url);
// An admin token: 16-256 characters a Bearer header carries as they are.
bool valid_admin_token(std::string_view token);
// A host to put in a URL for clients of an address the relay binds: the
// loopback address for a wildcard, brackets around an IPv6 address.
std::string url_host(std::string_view bind_host);
// "https://" when the relay speaks TLS, else "http://".
std::string url_scheme(const Options& options);
// Loads the TLS certificate and key the options name into options.tls. False
// and why when they do not load; true (and no context) without --tls-cert.
bool load_tls(Options& options, std::string& why);
// 6 random characters of [a-z0-9].
std::string random_relay_id();

}  // namespace sprites
