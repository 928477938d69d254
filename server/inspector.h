// File: inspector.h
//
// The Inspect service's queries (docs/DESIGN.md §9) over the last committed state: every call takes
// a fresh store snapshot, so it never sees the block in progress and needs no kernel thread. Keys
// are read through kernel/key_schema.h; tables are enumerated from their id counters, so
// listings come in id order and page tokens are the next id to look at.
//
// Errors: kInvalidArgument for malformed ids or tokens, kNotFound for absent entities,
// kFailedPrecondition before genesis, kDataLoss for stored values that do not parse.
//
// Thread-safety: thread-safe (reads snapshots only).

#ifndef SWINGSETD_SERVER_INSPECTOR_H_
#define SWINGSETD_SERVER_INSPECTOR_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernel/kv_store.h"
#include "swingsetd/v1/inspect.pb.h"

namespace swingset {

namespace v1 = ::swingsetd::v1;

class Inspector {
 public:
  explicit Inspector(const KvStore* store) : store_(store) {}  // not owned

  absl::Status GetStatus(const v1::GetStatusRequest& req, v1::GetStatusResponse* resp) const;
  absl::Status ListVats(const v1::ListVatsRequest& req, v1::ListVatsResponse* resp) const;
  absl::Status ListCList(const v1::ListCListRequest& req, v1::ListCListResponse* resp) const;
  absl::Status GetObject(const v1::GetObjectRequest& req, v1::GetObjectResponse* resp) const;
  absl::Status ListObjects(const v1::ListObjectsRequest& req, v1::ListObjectsResponse* resp) const;
  absl::Status GetPromise(const v1::GetPromiseRequest& req, v1::GetPromiseResponse* resp) const;
  absl::Status ListPromises(const v1::ListPromisesRequest& req,
                            v1::ListPromisesResponse* resp) const;
  absl::Status ListRunQueue(const v1::ListRunQueueRequest& req,
                            v1::ListRunQueueResponse* resp) const;
  absl::Status ListGCActions(const v1::ListGCActionsRequest& req,
                             v1::ListGCActionsResponse* resp) const;
  absl::Status GetMailbox(const v1::GetMailboxRequest& req, v1::GetMailboxResponse* resp) const;
  absl::Status ScanKV(const v1::ScanKVRequest& req, v1::ScanKVResponse* resp) const;

 private:
  // Table sizes cost a walk over the id counters and c-lists: computed once per committed
  // state and cached.
  struct TableSizes {
    uint64_t objects = 0, promises = 0, clist_entries = 0, vats_alive = 0, vats_terminated = 0;
  };
  absl::StatusOr<TableSizes> Sizes(const std::unique_ptr<KvSnapshot>& s, int64_t height,
                                   const std::string& state_hash) const;

  const KvStore* store_;
  mutable std::mutex sizes_mu_;
  mutable int64_t sizes_height_ = -1;  // guarded by sizes_mu_
  mutable std::string sizes_hash_;     // guarded by sizes_mu_
  mutable TableSizes sizes_;           // guarded by sizes_mu_
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_INSPECTOR_H_
