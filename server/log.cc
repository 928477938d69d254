#include "server/log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "kernel/json.h"
#include "kernel/strings.h"

namespace swingset {
namespace log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
std::mutex g_write_mu;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace

bool ParseLevel(std::string_view s, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (s == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool ParseFormat(std::string_view s, Format* out) {
  if (s == "text") {
    *out = Format::kText;
  } else if (s == "json") {
    *out = Format::kJson;
  } else {
    return false;
  }
  return true;
}

void Configure(Level min_level, Format format) {
  g_min_level = static_cast<int>(min_level);
  g_format = static_cast<int>(format);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(); }

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  if (static_cast<Format>(g_format.load()) == Format::kJson) {
    Json j = Json::MakeObject();
    j.Set("ts", Json(Timestamp()));
    j.Set("level", Json(LevelName(level)));
    j.Set("msg", Json(message));
    for (const Field& f : fields) j.Set(f.first, Json(f.second));
    line = j.Dump();
  } else {
    char level_text[8];
    std::snprintf(level_text, sizeof(level_text), "%-5s", LevelName(level));
    for (char& c : level_text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    line = StrCat(Timestamp(), " ", level_text, " ", message);
    for (const Field& f : fields) StrAppend(&line, " ", f.first, "=", f.second);
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace log
}  // namespace swingset
