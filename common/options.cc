// See options.h. The table below is the single place where an option's name,
// default, range and environment variable are defined.
#include "common/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/version.h"
#include <nlohmann/json.hpp>
#include <cstdlib>
#include <iostream>
#include <sys/stat.h>
#include <thread>

#include "common/key_file.h"

namespace sprites {

std::string default_ipc_path(uint16_t master_port, long pid) {
  std::string dir = "/tmp/sprites-" + std::to_string(::geteuid());
  if (const char* systemd = std::getenv("RUNTIME_DIRECTORY"); systemd && *systemd) {
    dir = systemd;
    dir = dir.substr(0, dir.find(':'));  // the first of several RuntimeDirectory= entries
  } else if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
    struct stat st {};
    if (::stat(runtime, &st) == 0 && S_ISDIR(st.st_mode)) dir = runtime;
  }
  long suffix = master_port == 0 ? pid : static_cast<long>(master_port);
  return dir + "/sprites-" + std::to_string(suffix) + ".sock";
}

namespace {

// The table: every option's flag, environment variable, range and help.
void declare(CLI::App& app, Options& out, std::string& ignored_bin_dir) {
  app.option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.allow_extras(false);

  app.add_option("--host", out.host, "address both ports bind")->envname("SPRITES_HOST");
  app.add_option("--master-port", out.master_port, "long-poll and join port")
      ->envname("SPRITES_MASTER_PORT");
  app.add_option("--worker-port", out.worker_port, "throw port")->envname("SPRITES_WORKER_PORT");
  app.add_option("--workers", out.workers, "worker processes (supervisor)")
      ->envname("SPRITES_WORKERS")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--ipc-path", out.ipc_path, "master's Unix socket")->envname("SPRITES_IPC_PATH");
  app.add_option("--grid-width", out.grid_width, "width W of every group's grid")
      ->envname("SPRITES_GRID_WIDTH")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--poll-timeout-ms", out.poll_timeout_ms, "longest hold of a poll")
      ->envname("SPRITES_POLL_TIMEOUT_MS")
      ->check(CLI::Range(1u, 3600000u));
  app.add_option("--node-ttl-ms", out.node_ttl_ms, "grace after a poll ends before the node leaves")
      ->envname("SPRITES_NODE_TTL_MS")
      ->check(CLI::Range(1u, 86400000u));
  app.add_option("--mailbox-limit", out.mailbox_limit, "unacknowledged events a node may hold")
      ->envname("SPRITES_MAILBOX_LIMIT")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--rate-limit", out.rate_limit, "throws per second per node, burst twice that; 0 = none")
      ->envname("SPRITES_RATE_LIMIT")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--max-body-bytes", out.max_body_bytes, "largest throw body")
      ->envname("SPRITES_MAX_BODY_BYTES")
      ->check(CLI::Range(64u, 512u * 1024u));  // the supervisor checks the same ranges
  app.add_option("--max-nodes", out.max_nodes, "nodes the master holds at most; 0 = file limit")
      ->envname("SPRITES_MAX_NODES")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--request-timeout-ms", out.request_timeout_ms,
                 "time to receive a whole request once it began (408 after); 0 = none")
      ->envname("SPRITES_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(0u, 86400000u));
  app.add_option("--idle-timeout-ms", out.idle_timeout_ms,
                 "close a connection with nothing owed and nothing received this long; 0 = none")
      ->envname("SPRITES_IDLE_TIMEOUT_MS")
      ->check(CLI::Range(0u, 86400000u));
  app.add_option("--log-level", out.log_level, "debug, info, warn or error")
      ->envname("SPRITES_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--log-format", out.log_format, "json, text, or auto: JSON unless standard error is a terminal")
      ->envname("SPRITES_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text", "auto"}));
  app.add_option("--master-fd", out.master_fd, "(internal) inherited listening socket, master port")
      ->envname("SPRITES_MASTER_FD")
      ->group("Internal");
  app.add_option("--worker-fd", out.worker_fd, "(internal) inherited listening socket, worker port")
      ->envname("SPRITES_WORKER_FD")
      ->group("Internal");
  app.add_option("--master-timeout-ms", out.master_timeout_ms,
                 "worker: answer 503 to a throw the master has not acknowledged within this")
      ->envname("SPRITES_MASTER_TIMEOUT_MS")
      ->check(CLI::Range(50u, 600000u));
  app.add_option("--nats", out.nats, "NATS server URL(s), comma-separated; empty: no cluster")
      ->envname("SPRITES_NATS");
  app.add_option("--cluster", out.cluster, "cluster name: relays with the same NATS and name form one cluster")
      ->envname("SPRITES_CLUSTER")
      ->check(CLI::Validator([](std::string& v) { return valid_cluster_name(v) ? std::string() : "1-32 of [A-Za-z0-9_-]"; },
                             "NAME"));
  app.add_option("--relay-id", out.relay_id, "this relay's id, stable across planned restarts; empty: random")
      ->envname("SPRITES_RELAY_ID")
      ->check(CLI::Validator(
          [](std::string& v) { return v.empty() || valid_relay_id(v) ? std::string() : "1-16 of [a-z0-9]"; }, "ID"));
  app.add_option("--public-master", out.public_master, "master URL other relays hand to clients")
      ->envname("SPRITES_PUBLIC_MASTER")
      ->check(CLI::Validator(
          [](std::string& v) { return v.empty() || valid_public_url(v) ? std::string() : "http(s)://host:port"; }, "URL"));
  app.add_option("--public-worker", out.public_worker, "worker URL other relays hand to clients")
      ->envname("SPRITES_PUBLIC_WORKER")
      ->check(CLI::Validator(
          [](std::string& v) { return v.empty() || valid_public_url(v) ? std::string() : "http(s)://host:port"; }, "URL"));
  app.add_option("--relay-timeout-ms", out.relay_timeout_ms, "a relay not heard from for this long is gone")
      ->envname("SPRITES_RELAY_TIMEOUT_MS")
      ->check(CLI::Range(500u, 600000u));
  app.add_option("--web-dir", out.web_dir, "the folder of the pages the master serves at /, /play and /web/ (default: <repo>/web)")
      ->envname("SPRITES_WEB_DIR");
  app.add_option("--admin-port", out.admin_port,
                 "serve /v1/stats, /metrics, /v1/cluster and the status page on this port instead of the master "
                 "port (0: chosen by the system); unset: on the master port")
      ->envname("SPRITES_ADMIN_PORT")
      ->check(CLI::Range(0, 65535));
  app.add_option("--admin-host", out.admin_host, "address the admin port binds")->envname("SPRITES_ADMIN_HOST");
  app.add_option("--admin-token", out.admin_token,
                 "the operator endpoints need Authorization: Bearer <this> (16-256 characters); prefer the "
                 "environment variable, which ps does not show")
      ->envname("SPRITES_ADMIN_TOKEN")
      ->check(CLI::Validator([](std::string& v) { return v.empty() || valid_admin_token(v) ? std::string()
                                                                   : "16-256 of [A-Za-z0-9._~+/=-]"; },
                             "TOKEN"));
  app.add_option("--admin-fd", out.admin_fd, "(internal) inherited listening socket, admin port")->group("Internal");
  app.add_option("--join-key", out.join_key,
                 "secret (32+ bytes) that signs join tickets; empty: joins need none (see --join-key-file)")
      ->envname("SPRITES_JOIN_KEY");
  app.add_option("--join-key-file", out.join_key_file,
                 "read the join key from this file (not open to others), keeping it out of ps")
      ->envname("SPRITES_JOIN_KEY_FILE");
  app.add_option("--join-rate-limit", out.join_rate_limit,
                 "joins per second per source address, burst twice that; 0 = none")
      ->envname("SPRITES_JOIN_RATE_LIMIT")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--tls-cert", out.tls_cert,
                 "PEM certificate chain (leaf first): every port speaks TLS (needs --tls-key)")
      ->envname("SPRITES_TLS_CERT");
  app.add_option("--tls-key", out.tls_key, "PEM private key of --tls-cert, in a file not open to others")
      ->envname("SPRITES_TLS_KEY");
  app.add_option("--ipc-fd", out.ipc_fd, "(internal) inherited IPC listening socket")->group("Internal");
  app.add_option("--ipc-handoff-fd", out.ipc_handoff_fd,
                 "(internal) create the IPC socket, send it over this Unix socket and exit")
      ->group("Internal");
  app.add_option("--ready-fd", out.ready_fd, "(internal) where the master reports that it serves")
      ->group("Internal");
  app.add_flag("--print-config", out.print_config, "print the resolved options as JSON and exit");
  app.add_flag("--check-config", out.check_config,
               "check the options and the files they name (TLS certificate and key, join key), then exit 0 or 2");
  app.add_option("--bin-dir", ignored_bin_dir, "(supervisor) where the binaries are")->group("Internal");
}

// The join key from --join-key or --join-key-file (one of them, not both).
// A file that cannot be read, or is open to others, or a short key, is a
// usage error: a relay must not start open when its operator meant it closed.
bool resolve_join_key(Options& out) {
  if (!out.join_key_file.empty()) {
    if (!out.join_key.empty()) {
      std::cerr << "--join-key and --join-key-file are both set: give the key one way\n";
      return false;
    }
    if (std::string why = read_key_file(out.join_key_file, out.join_key); !why.empty()) {
      std::cerr << "--join-key-file: " << why << "\n";
      return false;
    }
    return true;
  }
  if (std::string why = out.join_key.empty() ? std::string() : check_join_key(out.join_key); !why.empty()) {
    std::cerr << "--join-key: " << why << "\n";
    return false;
  }
  return true;
}

// What the table cannot say: checks across options, and defaults that depend
// on the machine or the process. False after saying why.
bool resolve(Options& out) {
  if (out.master_port != 0 && out.master_port == out.worker_port) {
    std::cerr << "--master-port and --worker-port are both " << out.master_port << ": they must differ\n";
    return false;
  }
  if (out.admin_port > 0 && (out.admin_port == out.master_port || out.admin_port == out.worker_port)) {
    std::cerr << "--admin-port " << out.admin_port << " is the master or worker port: give it a port of its own\n";
    return false;
  }
  if (out.workers == 0) {
    unsigned cpus = std::thread::hardware_concurrency();
    out.workers = cpus == 0 ? 1 : cpus;
  }
  if (out.ipc_path.empty()) {
    // docs/API.md "Options": with master port 0 the socket is named after the
    // supervisor, which is this process's parent when it asks for a handoff.
    const bool for_supervisor = out.ipc_handoff_fd >= 0 || out.print_config;
    const long pid = for_supervisor ? static_cast<long>(::getppid()) : static_cast<long>(::getpid());
    out.ipc_path = default_ipc_path(out.master_port, pid);
  }
  if (out.relay_id.empty()) out.relay_id = random_relay_id();
  if (!resolve_join_key(out)) return false;
  if (out.tls_cert.empty() != out.tls_key.empty()) {
    std::cerr << (out.tls_cert.empty() ? "--tls-key is set without --tls-cert" : "--tls-cert is set without --tls-key")
              << ": TLS needs both\n";
    return false;
  }
  if (std::string why; !load_tls(out, why)) {
    std::cerr << "TLS: " << why << "\n";
    return false;
  }
  return true;
}

bool all_of(std::string_view s, bool (*ok)(char)) {
  for (char c : s) {
    if (!ok(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_relay_id(std::string_view id) {
  return !id.empty() && id.size() <= 16 &&
         all_of(id, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

bool valid_cluster_name(std::string_view name) {
  return !name.empty() && name.size() <= 32 && all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool valid_public_url(std::string_view url) {
  if (url.size() > 200) return false;
  std::string_view rest;
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty() || rest.back() == '/') return false;
  // host[:port] or [v6]:port; no path, query, userinfo or spaces: it is
  // written into Location headers and JSON as it is.
  return all_of(rest, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == ':' || c == '[' || c == ']' || c == '_';
  });
}

std::string url_host(std::string_view bind_host) {
  if (bind_host.empty() || bind_host == "0.0.0.0") return "127.0.0.1";
  if (bind_host == "::") return "[::1]";
  if (bind_host.find(':') != std::string_view::npos) return "[" + std::string(bind_host) + "]";
  return std::string(bind_host);
}

std::string url_scheme(const Options& options) { return options.tls ? "https://" : "http://"; }

bool load_tls(Options& options, std::string& why) {
  if (options.tls_cert.empty()) return true;
  std::shared_ptr<tls::TlsContext> context = tls::TlsContext::server(options.tls_cert, options.tls_key, why);
  if (!context) return false;
  options.tls = std::move(context);
  return true;
}

bool valid_admin_token(std::string_view token) {
  if (token.size() < 16 || token.size() > 256) return false;
  return all_of(token, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/' || c == '=' || c == '-';
  });
}

std::string random_relay_id() {
  unsigned char bytes[6];
  if (::getentropy(bytes, sizeof bytes) != 0) {
    for (auto& b : bytes) b = static_cast<unsigned char>(std::rand());
  }
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id;
  for (unsigned char b : bytes) id.push_back(kAlphabet[b % 36]);
  return id;
}

int parse_options(int argc, char** argv, const char* program, Options& out) {
  CLI::App app{"sprites relay: " + std::string(program), program};
  app.set_version_flag("--version", version_line(program), "print the version and the commit, and exit");
  std::string ignored_bin_dir;
  declare(app, out, ignored_bin_dir);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, std::cout, std::cerr);
    return code == 0 ? 0 : 2;
  }
  if (!resolve(out)) return 2;
  if (out.print_config) {
    std::cout << options_json(out) << std::endl;
    return 0;
  }
  if (out.check_config) return 0;
  return -1;
}

std::string options_json(const Options& o) {
  nlohmann::ordered_json j;
  j["host"] = o.host;
  j["master-port"] = o.master_port;
  j["worker-port"] = o.worker_port;
  j["workers"] = o.workers;
  j["ipc-path"] = o.ipc_path;
  j["grid-width"] = o.grid_width;
  j["poll-timeout-ms"] = o.poll_timeout_ms;
  j["node-ttl-ms"] = o.node_ttl_ms;
  j["mailbox-limit"] = o.mailbox_limit;
  j["rate-limit"] = o.rate_limit;
  j["max-body-bytes"] = o.max_body_bytes;
  j["max-nodes"] = o.max_nodes;
  j["request-timeout-ms"] = o.request_timeout_ms;
  j["idle-timeout-ms"] = o.idle_timeout_ms;
  j["master-timeout-ms"] = o.master_timeout_ms;
  j["log-level"] = o.log_level;
  j["log-format"] = o.log_format;
  j["nats"] = o.nats;
  j["cluster"] = o.cluster;
  j["relay-id"] = o.relay_id;
  j["public-master"] = o.public_master;
  j["public-worker"] = o.public_worker;
  j["relay-timeout-ms"] = o.relay_timeout_ms;
  j["web-dir"] = o.web_dir;
  j["admin-port"] = o.admin_port;
  j["admin-host"] = o.admin_host;
  j["admin-token-set"] = !o.admin_token.empty();  // the token itself is never printed
  j["join-key-set"] = !o.join_key.empty();  // the key itself is never printed
  j["join-key-file"] = o.join_key_file;
  j["join-rate-limit"] = o.join_rate_limit;
  j["tls-cert"] = o.tls_cert;
  j["tls-key"] = o.tls_key;
  return j.dump();
}

}  // namespace sprites
