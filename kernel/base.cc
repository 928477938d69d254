#include "kernel/base.h"

#include <unistd.h>

#include <cstdio>

namespace swingset {
namespace base_internal {

FatalMessage::FatalMessage(const char* file, int line, const char* kind, const char* condition,
                           int exit_code)
    : exit_code_(exit_code) {
  stream_ << file << ":" << line << ": " << kind << ": " << condition << ": ";
}

FatalMessage::~FatalMessage() {
  std::string msg = stream_.str();
  std::fflush(stdout);
  std::fprintf(stderr, "swingsetd: fatal: %s\n", msg.c_str());
  std::fflush(stderr);
  // Not std::abort() (see base.h) and not exit(): no destructors or atexit handlers run while
  // other threads still use the kernel.
  _exit(exit_code_);
}

}  // namespace base_internal
}  // namespace swingset
