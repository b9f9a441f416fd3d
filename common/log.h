// Logging: one line per event on standard error, with time, level and process
// role ("master", "worker 1234"), as text for a person at a terminal or as one
// JSON object per line for a log pipeline (--log-format; docs/API.md "Logs").
//
// Two kinds of line. Messages are printf-style prose (process events, what
// went wrong). Events are named facts with fields an operator filters on
// (`join`, `leave`, `refused`): in text `event key=value ...`, in JSON members
// of the line's object. Both format into a stack buffer and issue one
// write(2), so lines from several processes sharing one terminal or journal
// never interleave mid-line. Lines below the configured level cost a single
// comparison. Secrets (tokens) are never passed here; strings from clients
// (names, groups) are escaped, so no client can forge a line.
#pragma once

#include <cstdint>
#include <string_view>

namespace sprites::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class Format { Text, Json };

// Sets the role shown on every line, the lowest level written and the format.
void init(std::string_view role, Level level, Format format = Format::Text);

// Parses "debug", "info", "warn", "error".
bool parse_level(std::string_view text, Level& out);
// Parses "json", "text" and "auto" (JSON unless standard error is a terminal).
bool parse_format(std::string_view text, Format& out);

bool enabled(Level level);

void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Where finished lines go: standard error, or a test's sink.
using Sink = void (*)(std::string_view line);
void set_sink(Sink sink);

// An event line, written when the builder goes out of scope:
//   if (log::enabled(Level::Info)) log::Event(Level::Info, "join").str("node", id).num("slot", 3);
// Fields past the line's room (2 KiB) are cut; the line stays well formed.
class Event {
 public:
  Event(Level level, std::string_view name);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  Event& str(std::string_view key, std::string_view value);
  Event& num(std::string_view key, uint64_t value);

 private:
  void key(std::string_view name);
  void append(std::string_view text);
  void append_quoted(std::string_view text);

  char line_[2048];
  size_t used_ = 0;
  bool full_ = false;
};

}  // namespace sprites::log

#define SPRITES_LOG(level, ...)                                         \
  do {                                                                  \
    if (::sprites::log::enabled(level)) ::sprites::log::write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) SPRITES_LOG(::sprites::log::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) SPRITES_LOG(::sprites::log::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) SPRITES_LOG(::sprites::log::Level::Warn, __VA_ARGS__)
#define LOG_ERROR(...) SPRITES_LOG(::sprites::log::Level::Error, __VA_ARGS__)
