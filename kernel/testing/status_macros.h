// File: status_macros.h
//
// ASSERT_OK / EXPECT_OK for absl::Status in GoogleTest (Debian's Abseil has no status matchers).

#ifndef SWINGSETD_KERNEL_TESTING_STATUS_MACROS_H_
#define SWINGSETD_KERNEL_TESTING_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "gtest/gtest.h"

#define ASSERT_OK(expr)                    \
  do {                                     \
    absl::Status _s = (expr);              \
    ASSERT_TRUE(_s.ok()) << _s.ToString(); \
  } while (0)

#define EXPECT_OK(expr)                    \
  do {                                     \
    absl::Status _s = (expr);              \
    EXPECT_TRUE(_s.ok()) << _s.ToString(); \
  } while (0)

#endif  // SWINGSETD_KERNEL_TESTING_STATUS_MACROS_H_
