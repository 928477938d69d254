// File: grpc_services.h
//
// The gRPC adapters: Lifecycle handlers hand each call to the kernel thread and wait; Inspect
// handlers read store snapshots on the gRPC thread. No kernel logic lives here.
//
// This header keeps grpcpp out of its includers: the services are created behind a factory and
// registered with a builder through RegisterServices.

#ifndef SWINGSETD_SERVER_GRPC_SERVICES_H_
#define SWINGSETD_SERVER_GRPC_SERVICES_H_

#include <functional>
#include <memory>

namespace grpc {
class ServerBuilder;
}  // namespace grpc

namespace swingset {

class BlockLifecycle;
class Inspector;
class KernelThread;

class Services {
 public:
  // `lifecycle` is used only on `kernel_thread`; `on_initialized` runs (on the kernel thread)
  // after every successful Init. None are owned; all must outlive the server.
  static std::unique_ptr<Services> Create(KernelThread* kernel_thread, BlockLifecycle* lifecycle,
                                          const Inspector* inspector,
                                          std::function<void()> on_initialized);
  virtual ~Services() = default;
  virtual void RegisterWith(grpc::ServerBuilder* builder) = 0;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_GRPC_SERVICES_H_
