#include "server/status_util.h"

#include <string>

#include "kernel/utf8.h"

namespace swingset {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Messages can quote vat text (WTF-8); clients expect UTF-8.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      ToValidUtf8(std::string(status.message())));
}

}  // namespace swingset
