#include "server/grpc_services.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "grpc/health/v1/health.pb.h"
#include "server/block_lifecycle.h"
#include "server/inspector.h"
#include "server/kernel_thread.h"
#include "server/status_util.h"
#include "swingsetd/v1/inspect.grpc.pb.h"
#include "swingsetd/v1/lifecycle.grpc.pb.h"

namespace swingset {
namespace {

namespace v1 = ::swingsetd::v1;

grpc::Status Unavailable() {
  return ToGrpcStatus(absl::UnavailableError("swingsetd is shutting down"));
}

class LifecycleService final : public v1::Lifecycle::Service {
 public:
  LifecycleService(KernelThread* thread, BlockLifecycle* lifecycle,
                   std::function<void()> on_initialized)
      : thread_(thread), lifecycle_(lifecycle), on_initialized_(std::move(on_initialized)) {}

  grpc::Status Init(grpc::ServerContext*, const v1::InitRequest* req,
                    v1::InitResponse* resp) override {
    return OnKernel([&] {
      absl::Status s = lifecycle_->Init(*req, resp);
      if (s.ok() && on_initialized_) on_initialized_();
      return s;
    });
  }
  grpc::Status BeginBlock(grpc::ServerContext*, const v1::BeginBlockRequest* req,
                          v1::BeginBlockResponse* resp) override {
    return OnKernel([&] { return lifecycle_->BeginBlock(*req, resp); });
  }
  grpc::Status EndBlock(grpc::ServerContext*, const v1::EndBlockRequest* req,
                        v1::EndBlockResponse* resp) override {
    return OnKernel([&] { return lifecycle_->EndBlock(*req, resp); });
  }
  grpc::Status Commit(grpc::ServerContext*, const v1::CommitRequest* req,
                      v1::CommitResponse* resp) override {
    return OnKernel([&] { return lifecycle_->Commit(*req, resp); });
  }

 private:
  template <typename F>
  grpc::Status OnKernel(F fn) {
    absl::Status status;
    if (!thread_->Call([&] { status = fn(); })) return Unavailable();
    return ToGrpcStatus(status);
  }

  KernelThread* thread_;
  BlockLifecycle* lifecycle_;
  std::function<void()> on_initialized_;
};

class InspectService final : public v1::Inspect::Service {
 public:
  explicit InspectService(const Inspector* inspector) : in_(inspector) {}

#define SWINGSETD_INSPECT_METHOD(Name)                                                 \
  grpc::Status Name(grpc::ServerContext*, const v1::Name##Request* req,                \
                    v1::Name##Response* resp) override {                               \
    return ToGrpcStatus(in_->Name(*req, resp));                                        \
  }
  SWINGSETD_INSPECT_METHOD(GetStatus)
  SWINGSETD_INSPECT_METHOD(ListVats)
  SWINGSETD_INSPECT_METHOD(ListCList)
  SWINGSETD_INSPECT_METHOD(GetObject)
  SWINGSETD_INSPECT_METHOD(ListObjects)
  SWINGSETD_INSPECT_METHOD(GetPromise)
  SWINGSETD_INSPECT_METHOD(ListPromises)
  SWINGSETD_INSPECT_METHOD(ListRunQueue)
  SWINGSETD_INSPECT_METHOD(ListGCActions)
  SWINGSETD_INSPECT_METHOD(GetMailbox)
  SWINGSETD_INSPECT_METHOD(ScanKV)
#undef SWINGSETD_INSPECT_METHOD

 private:
  const Inspector* in_;
};

class ServicesImpl final : public Services {
 public:
  ServicesImpl(KernelThread* thread, BlockLifecycle* lifecycle, const Inspector* inspector,
               std::function<void()> on_initialized)
      : lifecycle_(thread, lifecycle, std::move(on_initialized)), inspect_(inspector) {}

  void RegisterWith(grpc::ServerBuilder* builder) override {
    // Linking the generated health descriptors makes reflection able to describe the built-in
    // health service (TOOLCHAIN §4 caveat 2).
    (void)grpc::health::v1::HealthCheckResponse::descriptor();
    builder->RegisterService(&lifecycle_);
    builder->RegisterService(&inspect_);
  }

 private:
  LifecycleService lifecycle_;
  InspectService inspect_;
};

}  // namespace

std::unique_ptr<Services> Services::Create(KernelThread* kernel_thread, BlockLifecycle* lifecycle,
                                           const Inspector* inspector,
                                           std::function<void()> on_initialized) {
  return std::make_unique<ServicesImpl>(kernel_thread, lifecycle, inspector,
                                        std::move(on_initialized));
}

}  // namespace swingset
