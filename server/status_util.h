// File: status_util.h
//
// absl::Status -> grpc::Status: the only place in swingsetd that builds a grpc::Status (errors
// cross the gRPC boundary here and nowhere else). The canonical codes are the same numbers in both, so the code carries over
// unchanged and the message is kept.

#ifndef SWINGSETD_SERVER_STATUS_UTIL_H_
#define SWINGSETD_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace swingset {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace swingset

#endif  // SWINGSETD_SERVER_STATUS_UTIL_H_
