// Logging: one line per event on standard error, with time, level and process
// role ("master", "worker 1234").
//
// printf-style on purpose: a log call on a hot path formats into a stack buffer
// and issues one write(2), so lines from several processes sharing one terminal
// or journal never interleave mid-line. Lines below the configured level cost a
// single comparison. Secrets (tokens) are never passed here.
#pragma once

#include <string_view>

namespace sprites::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Sets the role shown on every line and the lowest level written.
void init(std::string_view role, Level level);

// Parses "debug", "info", "warn", "error".
bool parse_level(std::string_view text, Level& out);

bool enabled(Level level);

void write(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace sprites::log

#define SPRITES_LOG(level, ...)                                         \
  do {                                                                  \
    if (::sprites::log::enabled(level)) ::sprites::log::write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) SPRITES_LOG(::sprites::log::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) SPRITES_LOG(::sprites::log::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) SPRITES_LOG(::sprites::log::Level::Warn, __VA_ARGS__)
#define LOG_ERROR(...) SPRITES_LOG(::sprites::log::Level::Error, __VA_ARGS__)
