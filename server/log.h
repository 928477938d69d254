// File: log.h
//
// The sidecar's log: one line per event on stderr, as text
//   2024-05-01T12:00:00.123Z INFO  committed height=5 state_hash=ab12...
// or as JSON ({"ts":...,"level":"info","msg":...,"height":5,...}). Fields are key/value pairs so
// both formats carry the same information. Logging never feeds consensus state.
//
// Thread-safety: all functions may be called from any thread.

#ifndef SWINGSETD_SERVER_LOG_H_
#define SWINGSETD_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace swingset {
namespace log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

// Parses "debug" | "info" | "warn" | "error" and "text" | "json"; false on anything else.
bool ParseLevel(std::string_view s, Level* out);
bool ParseFormat(std::string_view s, Format* out);

void Configure(Level min_level, Format format);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string>;
void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

}  // namespace log
}  // namespace swingset

#endif  // SWINGSETD_SERVER_LOG_H_
