#include "kernel/base.h"

#include <cstdio>
#include <cstdlib>

namespace swingset {
namespace base_internal {

FatalMessage::FatalMessage(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": CHECK failed: " << condition << ": ";
}

FatalMessage::~FatalMessage() {
  std::string msg = stream_.str();
  std::fprintf(stderr, "swingsetd: fatal: %s\n", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace base_internal
}  // namespace swingset
