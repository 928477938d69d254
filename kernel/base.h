// File: base.h
//
// Small local replacements for what Debian's Abseil 20220623 lacks: CHECK for broken kernel
// invariants (fatal in every build type, with a message), and RETURN_IF_ERROR /
// ASSIGN_OR_RETURN for absl::Status plumbing at module boundaries.
//
// CHECK is only for kernel-internal contradictions (c-list mismatch, count below zero) and
// storage failures, where continuing would risk committing a state that forks consensus.
// Vat input is never CHECKed: it becomes an absl::Status.

#ifndef SWINGSETD_KERNEL_BASE_H_
#define SWINGSETD_KERNEL_BASE_H_

#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace swingset {
namespace base_internal {

// Collects a message through operator<< and aborts the process in its destructor.
class FatalMessage {
 public:
  FatalMessage(const char* file, int line, const char* condition);
  [[noreturn]] ~FatalMessage();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Turns the ostream& of a FatalMessage chain into void for the ternary in CHECK.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace base_internal
}  // namespace swingset

#define SWINGSET_PREDICT_FALSE(x) (__builtin_expect(!!(x), 0))

// CHECK(cond) << "context";  aborts with file, line, condition and context when cond is false.
#define CHECK(cond)                              \
  SWINGSET_PREDICT_FALSE(cond)                   \
  ? (void)0                                      \
  : ::swingset::base_internal::Voidify() &       \
        ::swingset::base_internal::FatalMessage(__FILE__, __LINE__, #cond).stream()

#define CHECK_OK(expr)                                                              \
  do {                                                                              \
    const ::absl::Status _check_ok_status = (expr);                                 \
    CHECK(_check_ok_status.ok()) << _check_ok_status.ToString();                    \
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
