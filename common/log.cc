// See log.h. One write(2) per line; level filtering before any formatting.
#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace sprites::log {
namespace {

std::string g_role = "sprites";
Level g_level = Level::Info;
Format g_format = Format::Text;

void to_stderr(std::string_view line) {
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}
Sink g_sink = to_stderr;

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}

// Appends `text` to line[used..] as the inside of a JSON string (quotes and
// backslashes escaped, control bytes as \u00XX), as far as `room` allows;
// never splits an escape. Bytes >= 0x80 pass as they are: the relay checks
// names are valid UTF-8 before they reach a log.
size_t escape_into(char* line, size_t used, size_t room, std::string_view text, bool* cut) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    char buf[6];
    size_t n = 0;
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      buf[n++] = '\\';
      buf[n++] = 'u';
      buf[n++] = '0';
      buf[n++] = '0';
      buf[n++] = kHex[c >> 4];
      buf[n++] = kHex[c & 15];
    } else {
      buf[n++] = static_cast<char>(c);
    }
    if (used + n > room) {
      *cut = true;
      return used;
    }
    for (size_t i = 0; i < n; ++i) line[used++] = buf[i];
  }
  return used;
}

// The line's head: `<time> <level> <role>: ` or `{"time":...,"process":...`.
size_t head(char* line, size_t size, Level level) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts{};
  gmtime_r(&ts.tv_sec, &parts);
  char when[96];  // room for any int the compiler cannot rule out
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, ts.tv_nsec / 1000000);
  int n;
  if (g_format == Format::Json) {
    n = std::snprintf(line, size, "{\"time\":\"%s\",\"level\":\"%s\",\"process\":\"", when, level_name(level));
    if (n < 0) return 0;
    bool cut = false;
    size_t used = escape_into(line, static_cast<size_t>(n), size / 4, g_role, &cut);
    line[used++] = '"';
    return used;
  }
  n = std::snprintf(line, size, "%s %s %s: ", when, level_name(level), g_role.c_str());
  if (n < 0) return 0;
  return static_cast<size_t>(n) < size ? static_cast<size_t>(n) : size - 1;
}

}  // namespace

void init(std::string_view role, Level level, Format format) {
  g_role.assign(role);
  g_level = level;
  g_format = format;
}

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

bool parse_format(std::string_view text, Format& out) {
  if (text == "json") {
    out = Format::Json;
  } else if (text == "text") {
    out = Format::Text;
  } else if (text == "auto") {
    out = ::isatty(STDERR_FILENO) ? Format::Text : Format::Json;
  } else {
    return false;
  }
  return true;
}

bool enabled(Level level) { return level >= g_level; }

void set_sink(Sink sink) { g_sink = sink ? sink : to_stderr; }

void write(Level level, const char* format, ...) {
  char line[2048];
  size_t used = head(line, sizeof line, level);
  char message[1800];
  va_list args;
  va_start(args, format);
  int m = std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  std::string_view text(message, m < 0 ? 0 : static_cast<size_t>(m) < sizeof message ? static_cast<size_t>(m)
                                                                                        : sizeof message - 1);
  if (g_format == Format::Json) {
    static constexpr std::string_view kMsg = ",\"msg\":\"";
    for (char c : kMsg) line[used++] = c;
    bool cut = false;
    used = escape_into(line, used, sizeof line - 3, text, &cut);
    line[used++] = '"';
    line[used++] = '}';
  } else {
    size_t n = std::min(text.size(), sizeof line - 1 - used);
    for (size_t i = 0; i < n; ++i) line[used++] = text[i];
  }
  line[used++] = '\n';
  g_sink(std::string_view(line, used));
}

Event::Event(Level level, std::string_view name) {
  used_ = head(line_, sizeof line_, level);
  if (g_format == Format::Json) {
    append(",\"event\":");
    append_quoted(name);
  } else {
    append(name);
  }
}

Event::~Event() {
  if (g_format == Format::Json) line_[used_++] = '}';
  line_[used_++] = '\n';
  g_sink(std::string_view(line_, used_));
}

// Room is kept for the closing "}\n" (and a quote) whatever is appended.
void Event::append(std::string_view text) {
  if (full_) return;
  if (used_ + text.size() > sizeof line_ - 4) {
    full_ = true;
    return;
  }
  for (char c : text) line_[used_++] = c;
}

void Event::append_quoted(std::string_view text) {
  if (full_ || used_ + 2 > sizeof line_ - 4) {
    full_ = true;
    return;
  }
  line_[used_++] = '"';
  used_ = escape_into(line_, used_, sizeof line_ - 5, text, &full_);
  line_[used_++] = '"';
}

// `,"key":` or ` key=`, before a field's value.
void Event::key(std::string_view name) {
  if (g_format == Format::Json) {
    append(",");
    append_quoted(name);
    append(":");
  } else {
    append(" ");
    append(name);
    append("=");
  }
}

Event& Event::str(std::string_view name, std::string_view value) {
  const size_t before = used_;
  key(name);
  append_quoted(value);
  if (full_) used_ = before;  // a field whole or not at all
  return *this;
}

Event& Event::num(std::string_view name, uint64_t value) {
  char digits[24];
  int n = std::snprintf(digits, sizeof digits, "%llu", static_cast<unsigned long long>(value));
  const size_t before = used_;
  key(name);
  append(std::string_view(digits, static_cast<size_t>(n)));
  if (full_) used_ = before;
  return *this;
}

}  // namespace sprites::log
