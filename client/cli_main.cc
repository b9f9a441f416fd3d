// sprites-cli: the relay from a terminal, one node at a time.
//
//   sprites-cli join [--group G] [--name N] [--ticket JWT]   prints the 201 answer (node, token, ...)
//   sprites-cli listen --node ID --token T           prints every event, one JSON line each
//   sprites-cli throw --node ID --token T --direction right (--sprite JSON | --sprite-file F) [--id X]
//   sprites-cli leave --node ID --token T
//   sprites-cli ticket --join-key-file F --group G [--name N] [--ttl-s 300]   prints a join ticket
//
// `ticket` mints what an operator's site would hand a user of a relay with a
// join key (docs/API.md "Join control"), for testing and scripts; it needs no
// relay. `join --ticket` (or SPRITES_TICKET) sends one.
//
// The master and worker addresses come from --master / --worker (env
// SPRITES_MASTER / SPRITES_WORKER, defaults 127.0.0.1:8000 / 127.0.0.1:8001)
// as host:port, [v6]:port, http://host:port or https://host:port; names are
// resolved once before the command runs. An https:// relay is spoken to over
// TLS and its certificate checked against the host as written, with the CA
// bundle of --ca (env SPRITES_CA) or else the system's trust store; a --ca
// that does not load is a usage error even when no address is https (a 307
// may lead to one). --node and --token also come from SPRITES_NODE /
// SPRITES_TOKEN, which keeps the token out of `ps`. Answers go to standard
// output as the relay sent them, errors to standard error as one line; exit
// status 0 on success, 1 when the relay refused or could not be reached (a
// name that does not resolve included), 2 on a usage error (an address that
// is not one).
//
// It is built from the same parts as the swarm (HttpClient, NodeSession), so
// the tool a person uses to poke the relay exercises the load generator's code.
// `listen` acknowledges by cursor and drops seqs it has printed; on SIGINT or
// SIGTERM (or after --count events) it acknowledges what it printed with a last
// poll of timeout 0 and exits 0, so the next listener does not see them again.
//
// In a cluster, `listen` and `leave` follow a 307 to the node's home relay
// (any relay's master will do as --master), its location parsed and resolved
// like --master (an https:// location gets TLS with the same CA); `throw` is
// accepted by any relay's worker.
//
// Events are printed one per line with the bytes the relay sent (numbers, key
// order and escapes untouched), flushed at once, so
// `sprites-cli listen | jq -c 'select(.type=="sprite")'` works as it streams.
// Dropped alternative: re-serialising the parsed events. 1.10 would print as
// 1.1: the same value, but not what was thrown.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "common/version.h"
#include "common/callback_guard.h"
#include "client/endpoint.h"
#include "client/http_client.h"
#include "client/node_session.h"
#include "client/protocol.h"
#include "client/resolver.h"
#include "client/ticket_mint.h"
#include "common/direction.h"
#include "common/identifiers.h"
#include "common/key_file.h"
#include "common/tls.h"

using namespace sprites;
using namespace sprites::client;

namespace {

constexpr uint64_t kAnswerGuardMs = 30000;   // join, throw, leave: no answer within this is an error
constexpr uint64_t kRetryDelayMs = 1000;     // listen: pause after a failed poll
constexpr int kMaxPollFailures = 10;         // listen: consecutive failures before giving up
constexpr uint64_t kFinalAckGuardMs = 2000;  // listen: the acknowledging poll at exit

struct Args {
  std::string master = "127.0.0.1:8000";
  std::string worker = "127.0.0.1:8001";
  std::optional<std::string> group;
  std::optional<std::string> name;
  std::string node;
  std::string token;
  uint64_t after = 0;
  std::optional<uint64_t> timeout_ms;
  uint64_t count = 0;
  std::string direction;
  std::optional<std::string> sprite;
  std::optional<std::string> sprite_file;
  std::optional<std::string> id;
  std::string ticket;
  std::string join_key_file;
  int64_t ttl_s = 300;
  std::string ca;  // "": the system's trust store
};

void say_error(const std::string& text) { std::fprintf(stderr, "sprites-cli: %s\n", text.c_str()); }

void print_line(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// One command run on one loop. The uv handles are members; finish() closes
// them and drops the connections, after which the loop ends by itself.
class Command final : public SessionObserver {
 public:
  Command(uv_loop_t* loop, const Endpoint& master, const Endpoint& worker,
          std::shared_ptr<const tls::TlsContext> tls)
      : loop_(loop), tls_(std::move(tls)) {
    master_ = HttpClient::create(loop, options(master, 2));
    worker_ = HttpClient::create(loop, options(worker, 1));
    session_ = std::make_unique<NodeSession>(*master_, *worker_, *this);
    uv_timer_init(loop, &guard_);
    uv_timer_init(loop, &retry_);
    uv_signal_init(loop, &sigint_);
    uv_signal_init(loop, &sigterm_);
    guard_.data = retry_.data = sigint_.data = sigterm_.data = this;
  }

  int exit_code() const { return exit_code_; }

  void join(const Args& args) {
    arm_guard("join");
    session_->join(args.group, args.name, /*then_poll=*/false, args.ticket);
  }

  void throw_sprite(const Args& args, Direction direction, const std::string& sprite) {
    arm_guard("throw");
    session_->adopt(args.node, args.token);
    std::optional<std::string_view> id;
    if (args.id) id = *args.id;
    session_->throw_sprite(direction, sprite, id, [this](Response&& r) {
      if (r.status == 202) {
        print_line(r.body);
        finish(0);
      } else {
        say_error("throw failed: " + describe(r));
        finish(1);
      }
    });
  }

  void leave(const Args& args) {
    arm_guard("leave");
    session_->adopt(args.node, args.token);
    session_->leave([this, args](Response&& r) {
      if (r.status == 204) return finish(0);
      if (r.status == 307) return follow(r, "leave", [this, args] { leave(args); });
      say_error("leave failed: " + describe(r));
      finish(1);
    });
  }

  void listen(const Args& args) {
    count_ = args.count;
    session_->adopt(args.node, args.token, args.after);
    printed_seq_ = args.after;
    session_->set_poll_timeout_ms(args.timeout_ms);
    uv_signal_start(&sigint_, &Command::on_signal, SIGINT);
    uv_signal_start(&sigterm_, &Command::on_signal, SIGTERM);
    session_->start_polling();
  }

  // ---- SessionObserver ----

  void on_joined(NodeSession&, std::string_view answer) override {
    print_line(std::string(answer));
    finish(0);
  }

  void on_join_failed(NodeSession&, const Response& response) override {
    say_error("join failed: " + describe(response));
    finish(1);
  }

  void on_event(NodeSession&, const Event& event) override {
    if (done_ || acknowledging_) return;
    print_line(std::string(event.raw));
    printed_seq_ = event.seq;
    poll_failures_ = 0;
    if (count_ != 0 && ++printed_ == count_) acknowledge_and_exit();
  }

  void on_poll_stopped(NodeSession& session, PollStop why, const Response& response) override {
    if (done_ || acknowledging_) return;
    switch (why) {
      case PollStop::Superseded:
        say_error("another listener now polls node " + session.node() + "; stopping");
        return finish(1);
      case PollStop::Gone:
        say_error("node " + session.node() + " is gone: " + describe(response));
        return finish(1);
      case PollStop::Refused:
        say_error("poll refused: " + describe(response));
        return finish(1);
      case PollStop::Moved:
        return follow(response, "poll", [this] { session_->start_polling(); });
      case PollStop::Failed:
        if (++poll_failures_ >= kMaxPollFailures) {
          say_error("poll failed " + std::to_string(poll_failures_) + " times in a row: " + describe(response));
          return finish(1);
        }
        say_error("poll failed: " + describe(response) + "; retrying in 1 s");
        uv_timer_start(&retry_, &Command::on_retry, kRetryDelayMs, 0);
        return;
    }
  }

 private:
  // A 307 in a cluster: the node's home is another relay. Its master takes
  // over from now on (at most kMaxRedirects times in a row), once its name
  // resolved; then `resume` sends the request again. Else the command ends.
  void follow(const Response& response, const char* what, std::function<void()> resume) {
    auto address = redirect_address(response);
    std::string error;
    auto home = address ? parse_endpoint(*address, &error) : std::nullopt;
    if (!home || ++redirects_ > kMaxRedirects) {
      say_error(std::string(what) + " redirected, and not followed: " + describe(response) +
                (error.empty() ? "" : " (" + error + ")"));
      return finish(1);
    }
    resolve(loop_, std::move(*home),
            [this, what, resume = std::move(resume)](std::optional<Endpoint> resolved, std::string why) {
              if (done_) return;  // ended (a signal, the guard) while the name was resolved
              if (!resolved) {
                say_error(std::string(what) + " redirected, and not followed: " + why);
                return finish(1);
              }
              master_ = HttpClient::create(loop_, options(std::move(*resolved), 2));
              session_->move_to(*master_, *worker_);
              resume();
            });
  }

  HttpClientOptions options(Endpoint server, uint32_t in_flight) const {
    HttpClientOptions o{std::move(server), std::nullopt, in_flight, 16u << 20, nullptr};
    o.tls = tls_for(o.server, tls_);
    return o;
  }

  void arm_guard(const char* what) {
    what_ = what;
    uv_timer_start(&guard_, &Command::on_guard, kAnswerGuardMs, 0);
  }

  // Acknowledges exactly what was printed (a poll of timeout 0 whose answer is
  // not printed; it supersedes the held poll), then exits 0.
  void acknowledge_and_exit() {
    if (acknowledging_ || done_) return;
    acknowledging_ = true;
    session_->stop_polling();
    what_ = "final acknowledgement";
    uv_timer_start(&guard_, &Command::on_guard, kFinalAckGuardMs, 0);
    master_->send(Request{"GET", events_target(session_->node(), printed_seq_, 0), session_->token(), {}},
                  [this](Response&&) { finish(0); });
  }

  static void on_signal(uv_signal_t* handle, int) {
    guarded("sprites-cli: signal", [&] {
      auto* c = static_cast<Command*>(handle->data);
      if (c->acknowledging_) return c->finish(0);  // a second signal: do not wait
      c->acknowledge_and_exit();
    });
  }

  static void on_retry(uv_timer_t* timer) {
    guarded("sprites-cli: retry", [&] {
      auto* c = static_cast<Command*>(timer->data);
      if (!c->done_) c->session_->start_polling();
    });
  }

  static void on_guard(uv_timer_t* timer) {
    guarded("sprites-cli: guard", [&] {
      auto* c = static_cast<Command*>(timer->data);
      if (c->acknowledging_) return c->finish(0);
      say_error(std::string("no answer to the ") + c->what_ + " within " + std::to_string(kAnswerGuardMs / 1000) + " s");
      c->finish(1);
    });
  }

  void finish(int code) {
    if (done_) return;
    done_ = true;
    exit_code_ = code;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&guard_), reinterpret_cast<uv_handle_t*>(&retry_),
                           reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigterm_)}) {
      uv_close(h, nullptr);
    }
    // The session stays (it may be on the stack); its transports go, which
    // drops their queued handlers and closes the sockets.
    session_->stop_polling();
    master_.reset();
    worker_.reset();
  }

  static constexpr int kMaxRedirects = 3;
  uv_loop_t* loop_;
  std::shared_ptr<const tls::TlsContext> tls_;  // for https:// relays; null when the trust store did not load
  int redirects_ = 0;
  HttpClient::Ptr master_;
  HttpClient::Ptr worker_;
  std::unique_ptr<NodeSession> session_;
  uv_timer_t guard_{};
  uv_timer_t retry_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  const char* what_ = "request";
  uint64_t count_ = 0;
  uint64_t printed_ = 0;
  uint64_t printed_seq_ = 0;
  int poll_failures_ = 0;
  int exit_code_ = 1;
  bool acknowledging_ = false;
  bool done_ = false;
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  return text.substr(begin, end - begin + 1);
}

// The subcommands, declared on `app` with their options bound to `args`.
struct Subcommands {
  CLI::App* join;
  CLI::App* listen;
  CLI::App* throw_cmd;
  CLI::App* leave;
  CLI::App* ticket;
};

Subcommands declare(CLI::App& app, Args& args) {
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--master", args.master,
                 "master address: host:port, [IPv6]:port, http://host:port or https://host:port; names are resolved")
      ->envname("SPRITES_MASTER")
      ->capture_default_str();
  app.add_option("--worker", args.worker, "worker address, in the forms of --master")
      ->envname("SPRITES_WORKER")
      ->capture_default_str();
  app.add_option("--ca", args.ca,
                 "PEM CA bundle to verify https:// relays against (env SPRITES_CA; default: the system's trust store)")
      ->envname("SPRITES_CA");

  Subcommands sub;
  sub.join = app.add_subcommand("join", "join a group; prints the 201 answer (node, token, neighbours) as one JSON line");
  sub.join->add_option("--group", args.group, "group to join (default: the default group \"\")");
  sub.join->add_option("--name", args.name, "name shown to the neighbours");
  sub.join->add_option("--ticket", args.ticket, "join ticket, for a relay with a join key (env SPRITES_TICKET)")
      ->envname("SPRITES_TICKET");

  auto identity = [&args](CLI::App* cmd) {
    cmd->add_option("--node", args.node, "node id (env SPRITES_NODE)")->envname("SPRITES_NODE")->required();
    cmd->add_option("--token", args.token, "the node's token (env SPRITES_TOKEN)")->envname("SPRITES_TOKEN")->required();
  };
  sub.listen = app.add_subcommand("listen", "hold the long-poll; prints each event as one JSON line as it arrives");
  identity(sub.listen);
  sub.listen->add_option("--after", args.after, "first cursor: events up to this seq count as acknowledged");
  sub.listen->add_option("--timeout-ms", args.timeout_ms, "timeout_ms of each poll (default: the server's)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3600000}));
  sub.listen->add_option("--count", args.count, "exit after printing this many events (0: never)");

  sub.throw_cmd = app.add_subcommand("throw", "throw a sprite off an edge; prints the 202 answer");
  identity(sub.throw_cmd);
  sub.throw_cmd->add_option("--direction", args.direction, "left, right, up or down")->required();
  auto* sprite = sub.throw_cmd->add_option("--sprite", args.sprite, "the sprite, a JSON object");
  auto* sprite_file = sub.throw_cmd->add_option("--sprite-file", args.sprite_file, "file holding the sprite (- for stdin)");
  sprite->excludes(sprite_file);
  sprite_file->excludes(sprite);
  sub.throw_cmd->add_option("--id", args.id, "the sprite's id (up to 64 characters)");

  sub.leave = app.add_subcommand("leave", "leave the grid");
  identity(sub.leave);

  sub.ticket = app.add_subcommand("ticket", "mint a join ticket (a JWT signed with the join key); prints it");
  sub.ticket->add_option("--join-key-file", args.join_key_file, "file holding the relay's join key (env SPRITES_JOIN_KEY_FILE)")
      ->envname("SPRITES_JOIN_KEY_FILE")
      ->required();
  sub.ticket->add_option("--group", args.group, "the group the ticket admits")->required();
  sub.ticket->add_option("--name", args.name, "the only name the ticket joins with (default: any)");
  sub.ticket->add_option("--ttl-s", args.ttl_s, "seconds until the ticket expires")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{366} * 24 * 3600));
  return sub;
}

// The sprite of a throw, from --sprite or --sprite-file, checked to be a JSON
// object; nullopt after saying why.
std::optional<std::string> sprite_of(const Args& args) {
  std::string text;
  if (args.sprite) {
    text = trim(*args.sprite);
  } else if (args.sprite_file) {
    std::optional<std::string> file = read_file(*args.sprite_file);
    if (!file) {
      say_error("cannot read --sprite-file " + *args.sprite_file);
      return std::nullopt;
    }
    text = trim(std::move(*file));
  } else {
    say_error("throw needs --sprite JSON or --sprite-file FILE");
    return std::nullopt;
  }
  std::optional<Json> parsed = parse_json(text);
  if (!parsed || !parsed->is_object()) {
    say_error("the sprite must be a JSON object, e.g. --sprite '{\"kind\":\"cat\"}'");
    return std::nullopt;
  }
  return text;
}

// `ticket`: prints a join ticket. 0, or 2 after saying why.
int print_ticket(const Args& args) {
  if (!valid_group(*args.group)) {
    say_error("--group must be 0-64 characters of [A-Za-z0-9._-]");
    return 2;
  }
  if (args.name && !valid_name(*args.name)) {
    say_error("--name must be at most 64 characters of valid UTF-8");
    return 2;
  }
  std::string key;
  if (std::string why = read_key_file(args.join_key_file, key); !why.empty()) {
    say_error(why);
    return 2;
  }
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  print_line(mint_join_ticket(key, *args.group, args.name, now_s, args.ttl_s));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sprites-cli: join, listen, throw and leave as one node of a sprites relay; mint join tickets",
               "sprites-cli"};
  app.set_version_flag("--version", sprites::version_line("sprites-cli"), "print the version and the commit, and exit");
  Args args;
  const Subcommands sub = declare(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (sub.ticket->parsed()) return print_ticket(args);

  std::string error;
  std::optional<Endpoint> master = parse_endpoint(args.master, &error);
  if (!master) {
    say_error("--master: " + error);
    return 2;
  }
  std::optional<Endpoint> worker = parse_endpoint(args.worker, &error);
  if (!worker) {
    say_error("--worker: " + error);
    return 2;
  }
  std::optional<Direction> direction;
  std::optional<std::string> sprite_text;
  if (sub.throw_cmd->parsed()) {
    direction = parse_direction(args.direction);
    if (!direction) {
      say_error("--direction must be left, right, up or down, not '" + args.direction + "'");
      return 2;
    }
    sprite_text = sprite_of(args);
    if (!sprite_text) return 2;
  }

  // The CA is loaded whether or not an address is https (a redirect may
  // be): a --ca that does not load is a usage error at once. The system's
  // trust store failing is only an error for an https:// address.
  std::string tls_problem;
  std::shared_ptr<const tls::TlsContext> tls = tls::TlsContext::client(args.ca, tls_problem);
  if (!tls && !args.ca.empty()) {
    say_error("--ca: " + tls_problem);
    return 2;
  }
  if (!tls && (master->tls || worker->tls)) {
    say_error(tls_problem);
    return 1;
  }

  ::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  // Both names, once and at once, before anything is sent: a name that does
  // not resolve is one error, like a relay that cannot be reached.
  if (std::string why = resolve_before_run(loop, {&*master, &*worker}); !why.empty()) {
    say_error(why);
    uv_loop_close(loop);
    return 1;
  }
  int code = 1;
  {
    Command command(loop, *master, *worker, tls);
    if (sub.join->parsed()) command.join(args);
    else if (sub.listen->parsed()) command.listen(args);
    else if (sub.throw_cmd->parsed()) command.throw_sprite(args, *direction, *sprite_text);
    else command.leave(args);
    uv_run(loop, UV_RUN_DEFAULT);
    code = command.exit_code();
  }
  uv_run(loop, UV_RUN_DEFAULT);  // close callbacks of anything released last
  uv_loop_close(loop);
  return code;
}
