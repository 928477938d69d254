// File: grpc_services.h
//
// The gRPC adapters. Every method is served raw: the request bytes are parsed here, so a request
// that is not a valid protobuf of its type is answered INVALID_ARGUMENT saying what is wrong
// (gRPC's own deserializer answers INTERNAL with no message). Lifecycle calls are queued on the
// kernel thread in arrival order; Inspect calls run on a small low-priority worker pool with a
// bounded queue (RESOURCE_EXHAUSTED when it is full), so inspection cannot slow blocks down. No
// kernel logic lives here.
//
// This header keeps grpcpp out of its includers: the services are created behind a factory and
// registered with a builder through the Register* methods.

#ifndef SWINGSETD_SERVER_GRPC_SERVICES_H_
#define SWINGSETD_SERVER_GRPC_SERVICES_H_

#include <cstddef>
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
  struct InspectOptions {
    int threads = 1;          // Inspect worker threads
    size_t max_queued = 64;   // Inspect calls waiting for a worker; more are RESOURCE_EXHAUSTED
    int nice = 19;            // the workers' nice value (and SCHED_BATCH when > 0)
  };

  // `lifecycle` is used only on `kernel_thread`; `on_initialized` runs (on the kernel thread)
  // after every successful Init. None are owned; all must outlive the server.
  static std::unique_ptr<Services> Create(KernelThread* kernel_thread, BlockLifecycle* lifecycle,
                                          const Inspector* inspector,
                                          std::function<void()> on_initialized,
                                          const InspectOptions& inspect_options);
  virtual ~Services() = default;  // Stop()s

  // Each service may be registered with one builder.
  virtual void RegisterLifecycle(grpc::ServerBuilder* builder) = 0;
  virtual void RegisterInspect(grpc::ServerBuilder* builder) = 0;

  // Finishes the queued Inspect calls and stops the workers (after the servers have shut down).
  virtual void Stop() = 0;
};

}  // namespace swingset

#endif  // SWINGSETD_SERVER_GRPC_SERVICES_H_
