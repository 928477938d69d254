// File: fuzz_check.h
//
// FUZZ_CHECK(cond) << "detail": for harness invariants. On failure it prints the condition and
// the detail and aborts, which libFuzzer reports as a crash and saves the input.

#ifndef SWINGSETD_FUZZ_FUZZ_CHECK_H_
#define SWINGSETD_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace swingset {
namespace fuzz {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond) {
    stream_ << file << ":" << line << ": FUZZ_CHECK failed: " << cond << " ";
  }
  ~CheckFailure() {
    std::fprintf(stderr, "%s\n", stream_.str().c_str());
    std::abort();
  }
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace fuzz
}  // namespace swingset

#define FUZZ_CHECK(cond) \
  if (cond) {            \
  } else                 \
    ::swingset::fuzz::CheckFailure(__FILE__, __LINE__, #cond)

#endif  // SWINGSETD_FUZZ_FUZZ_CHECK_H_
