// File: base.h
//
// Small local replacements for what Debian's Abseil 20220623 lacks: SWINGSET_CHECK for broken
// kernel invariants (fatal in every build type, with a message), and RETURN_IF_ERROR /
// ASSIGN_OR_RETURN for absl::Status plumbing at module boundaries. The checks carry the
// project's prefix so that a later Abseil's absl/log CHECK macros can be included beside them.
//
// SWINGSET_CHECK is only for kernel-internal contradictions (c-list mismatch, count below zero),
// SWINGSET_CHECK_STORAGE for storage failures, where continuing would risk committing a state
// that forks consensus, and SWINGSET_CHECK_ENGINE for a node-local engine limit. Vat input is
// never checked this way: it becomes an absl::Status. (Comments elsewhere say "a CHECK" for any
// of them.)
//
// A failed check prints "swingsetd: fatal: ..." to stderr and ends the process
// with _exit() and a status of its own (kExitInvariantFailure, kExitStorageFailure), so a
// supervisor can tell a deliberate halt from a crash. Not std::abort(): libmozjs exports its own
// abort() (mozalloc_abort), which interposes libc's in a process that links SpiderMonkey and
// crashes with SIGSEGV on purpose, so every halt would look like a segfault.

#ifndef SWINGSETD_KERNEL_BASE_H_
#define SWINGSETD_KERNEL_BASE_H_

#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace swingset {

// Exit statuses of a fail-stop halt (README "Exit status"). DO NOT CHANGE: supervisors key on them.
inline constexpr int kExitInvariantFailure = 70;  // a CHECK failed (sysexits EX_SOFTWARE)
inline constexpr int kExitStorageFailure = 74;    // the store failed at run time (EX_IOERR)
// A vat ran the JavaScript engine out of memory, a node-local limit (vats/js_vat_host.cc; EX_OSERR).
inline constexpr int kExitEngineOutOfMemory = 71;
// A node-local engine limit (watchdog, JS heap, native stack) stopped a metered vat: the outcome
// would differ between nodes, so the node halts instead of deciding it (EX_TEMPFAIL).
inline constexpr int kExitEngineLimit = 75;

namespace base_internal {

// Collects a message through operator<< and, in its destructor, prints it to stderr and ends the
// process with _exit(exit_code).
class FatalMessage {
 public:
  FatalMessage(const char* file, int line, const char* kind, const char* condition,
               int exit_code);
  [[noreturn]] ~FatalMessage();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
  int exit_code_;
};

// Turns the ostream& of a FatalMessage chain into void for the ternary in CHECK.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace base_internal
}  // namespace swingset

#define SWINGSET_PREDICT_FALSE(x) (__builtin_expect(!!(x), 0))

// SWINGSET_CHECK(cond) << "context";  when cond is false, prints file, line, condition and context
// and exits with kExitInvariantFailure.
#define SWINGSET_CHECK(cond)                                                                 \
  SWINGSET_PREDICT_FALSE(cond)                                                               \
  ? (void)0                                                                                  \
  : ::swingset::base_internal::Voidify() &                                                   \
          ::swingset::base_internal::FatalMessage(__FILE__, __LINE__, "CHECK failed", #cond, \
                                                  ::swingset::kExitInvariantFailure)         \
              .stream()

// SWINGSET_CHECK_STORAGE(cond) << "context";  the same for a failed store read or write (the store,
// not the kernel, is broken): exits with kExitStorageFailure.
#define SWINGSET_CHECK_STORAGE(cond)                                                            \
  SWINGSET_PREDICT_FALSE(cond)                                                                  \
  ? (void)0                                                                                     \
  : ::swingset::base_internal::Voidify() &                                                      \
          ::swingset::base_internal::FatalMessage(__FILE__, __LINE__, "storage failure", #cond, \
                                                  ::swingset::kExitStorageFailure)              \
              .stream()

// SWINGSET_CHECK_ENGINE(cond) << "context";  for a node-local engine limit that a metered vat hit
// (see kExitEngineLimit): exits with kExitEngineLimit.
#define SWINGSET_CHECK_ENGINE(cond)                                                          \
  SWINGSET_PREDICT_FALSE(cond)                                                               \
  ? (void)0                                                                                  \
  : ::swingset::base_internal::Voidify() &                                                   \
          ::swingset::base_internal::FatalMessage(__FILE__, __LINE__, "engine limit", #cond, \
                                                  ::swingset::kExitEngineLimit)              \
              .stream()

#define SWINGSET_CHECK_OK(expr)                                           \
  do {                                                                    \
    const ::absl::Status _check_ok_status = (expr);                       \
    SWINGSET_CHECK(_check_ok_status.ok()) << _check_ok_status.ToString(); \
  } while (0)

#define SWINGSET_CONCAT_INNER(a, b) a##b
#define SWINGSET_CONCAT(a, b) SWINGSET_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): returns the status from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                               \
  do {                                                      \
    ::absl::Status _return_if_error_status = (expr);        \
    if (!_return_if_error_status.ok()) return _return_if_error_status; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): lhs = *expr, or return expr.status().
#define ASSIGN_OR_RETURN(lhs, expr) \
  SWINGSET_ASSIGN_OR_RETURN_IMPL(SWINGSET_CONCAT(_status_or_, __LINE__), lhs, expr)
#define SWINGSET_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(*tmp)

#endif  // SWINGSETD_KERNEL_BASE_H_
