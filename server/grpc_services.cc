#include "server/grpc_services.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "grpc/health/v1/health.pb.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "server/block_lifecycle.h"
#include "server/inspector.h"
#include "server/kernel_thread.h"
#include "server/status_util.h"
#include "server/worker_pool.h"
#include "swingsetd/v1/inspect.grpc.pb.h"
#include "swingsetd/v1/lifecycle.grpc.pb.h"

namespace swingset {
namespace {

namespace v1 = ::swingsetd::v1;
namespace pb = ::google::protobuf;

// ---- Request parsing -------------------------------------------------------------------------

constexpr int kMaxDiagnoseDepth = 100;  // protobuf's own default recursion limit

// Why `bytes` does not parse as `type`: the first string field holding bytes that are not UTF-8
// or the first nested message that does not parse (named by its path, e.g.
// "actions[2].call_vat.method"), or damaged wire data. Empty when nothing specific is found.
std::string Diagnose(const pb::Descriptor* type, std::string_view bytes, const std::string& path,
                     int depth) {
  if (depth > kMaxDiagnoseDepth) return StrCat(path, ": messages nested too deeply");
  pb::UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return path.empty() ? std::string("truncated or malformed protobuf wire data")
                        : StrCat("field ", path, ": truncated or malformed protobuf wire data");
  }
  std::map<int, int> seen;  // field number -> occurrences so far (the repeated index)
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    const pb::FieldDescriptor* fd = type->FindFieldByNumber(f.number());
    int index = seen[f.number()]++;
    if (fd == nullptr || f.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    std::string at = path.empty() ? fd->name() : StrCat(path, ".", fd->name());
    if (fd->is_repeated()) at = StrCat(at, "[", index, "]");
    if (fd->type() == pb::FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(f.length_delimited())) return StrCat("field ", at, " is not valid UTF-8");
    } else if (fd->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      std::string why = Diagnose(fd->message_type(), f.length_delimited(), at, depth + 1);
      if (!why.empty()) return why;
    }
  }
  return "";
}

// Parses the request bytes into `msg`, or says what is wrong with them.
absl::Status ParseRequest(const grpc::ByteBuffer& request, pb::Message* msg) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (request.Valid()) {
    grpc::Status dumped = request.Dump(&slices);
    if (!dumped.ok()) return absl::InvalidArgumentError("request: unreadable message buffer");
    bytes.reserve(request.Length());
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  if (msg->ParseFromString(bytes)) return absl::OkStatus();
  std::string why = Diagnose(msg->GetDescriptor(), bytes, "", 0);
  if (why.empty()) why = "malformed protobuf data";
  return absl::InvalidArgumentError(
      StrCat("request is not a valid ", msg->GetDescriptor()->full_name(), ": ", why));
}

// Serializes `resp` into `out` (the same bytes gRPC's generated code would send).
absl::Status SerializeResponse(const pb::Message& resp, grpc::ByteBuffer* out) {
  std::string bytes;
  if (!resp.SerializeToString(&bytes)) {
    return absl::InternalError(StrCat(resp.GetDescriptor()->full_name(), " does not serialize"));
  }
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  out->Swap(&buffer);
  return absl::OkStatus();
}

// Queues a closure somewhere (the kernel thread, the Inspect pool); a non-OK status when it
// cannot, which then answers the call.
using Queue = std::function<absl::Status(std::function<void()>)>;

// One unary call: parse on the gRPC thread, then run `handler` where `queue` puts it and finish
// the call from there.
template <typename Req, typename Resp>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response, const Queue& queue,
                                std::function<absl::Status(const Req&, Resp*)> handler) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto req = std::make_shared<Req>();
  absl::Status parsed = ParseRequest(*request, req.get());
  if (!parsed.ok()) {
    reactor->Finish(ToGrpcStatus(parsed));
    return reactor;
  }
  absl::Status queued = queue([req, response, reactor, handler = std::move(handler)] {
    Resp resp;
    absl::Status s = handler(*req, &resp);
    if (s.ok()) s = SerializeResponse(resp, response);
    reactor->Finish(ToGrpcStatus(s));
  });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
  return reactor;
}

// ---- Lifecycle -------------------------------------------------------------------------------

using RawLifecycle = v1::Lifecycle::WithRawCallbackMethod_Init<
    v1::Lifecycle::WithRawCallbackMethod_BeginBlock<v1::Lifecycle::WithRawCallbackMethod_EndBlock<
        v1::Lifecycle::WithRawCallbackMethod_Commit<v1::Lifecycle::Service>>>>;

class LifecycleService final : public RawLifecycle {
 public:
  LifecycleService(KernelThread* thread, BlockLifecycle* lifecycle,
                   std::function<void()> on_initialized)
      : lifecycle_(lifecycle), on_initialized_(std::move(on_initialized)) {
    queue_ = [thread](std::function<void()> task) {
      if (thread->Post(std::move(task))) return absl::OkStatus();
      return absl::UnavailableError("swingsetd is shutting down");
    };
  }

  grpc::ServerUnaryReactor* Init(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                 grpc::ByteBuffer* resp) override {
    return Unary<v1::InitRequest, v1::InitResponse>(
        ctx, req, resp, queue_, [this](const v1::InitRequest& r, v1::InitResponse* out) {
          absl::Status s = lifecycle_->Init(r, out);
          if (s.ok() && on_initialized_) on_initialized_();
          return s;
        });
  }
  grpc::ServerUnaryReactor* BeginBlock(grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* req,
                                       grpc::ByteBuffer* resp) override {
    return Unary<v1::BeginBlockRequest, v1::BeginBlockResponse>(
        ctx, req, resp, queue_,
        [this](const v1::BeginBlockRequest& r, v1::BeginBlockResponse* out) {
          return lifecycle_->BeginBlock(r, out);
        });
  }
  grpc::ServerUnaryReactor* EndBlock(grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* req,
                                     grpc::ByteBuffer* resp) override {
    return Unary<v1::EndBlockRequest, v1::EndBlockResponse>(
        ctx, req, resp, queue_, [this](const v1::EndBlockRequest& r, v1::EndBlockResponse* out) {
          return lifecycle_->EndBlock(r, out);
        });
  }
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) override {
    return Unary<v1::CommitRequest, v1::CommitResponse>(
        ctx, req, resp, queue_, [this](const v1::CommitRequest& r, v1::CommitResponse* out) {
          return lifecycle_->Commit(r, out);
        });
  }

 private:
  BlockLifecycle* lifecycle_;
  std::function<void()> on_initialized_;
  Queue queue_;
};

// ---- Inspect ---------------------------------------------------------------------------------

using RawInspect = v1::Inspect::WithRawCallbackMethod_GetStatus<
    v1::Inspect::WithRawCallbackMethod_ListVats<v1::Inspect::WithRawCallbackMethod_ListCList<
        v1::Inspect::WithRawCallbackMethod_GetObject<v1::Inspect::WithRawCallbackMethod_ListObjects<
            v1::Inspect::WithRawCallbackMethod_GetPromise<
                v1::Inspect::WithRawCallbackMethod_ListPromises<
                    v1::Inspect::WithRawCallbackMethod_ListRunQueue<
                        v1::Inspect::WithRawCallbackMethod_ListGCActions<
                            v1::Inspect::WithRawCallbackMethod_GetMailbox<
                                v1::Inspect::WithRawCallbackMethod_ScanKV<
                                    v1::Inspect::Service>>>>>>>>>>>;

class InspectService final : public RawInspect {
 public:
  InspectService(const Inspector* inspector, const Services::InspectOptions& options)
      : in_(inspector),
        max_queued_(options.max_queued),
        pool_(WorkerPool::Options{.name = "inspect",
                                  .threads = options.threads,
                                  .max_queued = options.max_queued,
                                  .nice = options.nice}) {
    queue_ = [this](std::function<void()> task) {
      if (pool_.TrySubmit(std::move(task))) return absl::OkStatus();
      return absl::ResourceExhaustedError(
          StrCat("Inspect is at capacity (", max_queued_,
                 " calls already queued, or shutting down): retry later"));
    };
  }

  void Stop() { pool_.Stop(); }

#define SWINGSETD_INSPECT_METHOD(Name)                                                        \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req, \
                                 grpc::ByteBuffer* resp) override {                           \
    return Unary<v1::Name##Request, v1::Name##Response>(                                      \
        ctx, req, resp, queue_, [this](const v1::Name##Request& r, v1::Name##Response* out) { \
          return in_->Name(r, out);                                                           \
        });                                                                                   \
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
  const size_t max_queued_;
  WorkerPool pool_;
  Queue queue_;
};

class ServicesImpl final : public Services {
 public:
  ServicesImpl(KernelThread* thread, BlockLifecycle* lifecycle, const Inspector* inspector,
               std::function<void()> on_initialized, const InspectOptions& inspect_options)
      : lifecycle_(thread, lifecycle, std::move(on_initialized)),
        inspect_(inspector, inspect_options) {}
  ~ServicesImpl() override { Stop(); }

  void RegisterLifecycle(grpc::ServerBuilder* builder) override {
    LinkHealthDescriptors();
    builder->RegisterService(&lifecycle_);
  }
  void RegisterInspect(grpc::ServerBuilder* builder) override {
    LinkHealthDescriptors();
    builder->RegisterService(&inspect_);
  }
  void Stop() override { inspect_.Stop(); }

 private:
  // Linking the generated health descriptors makes reflection able to describe the built-in
  // health service (without a reference to them the linker drops them, and grpcurl cannot list
  // grpc.health.v1.Health).
  static void LinkHealthDescriptors() { (void)grpc::health::v1::HealthCheckResponse::descriptor(); }

  LifecycleService lifecycle_;
  InspectService inspect_;
};

}  // namespace

std::unique_ptr<Services> Services::Create(KernelThread* kernel_thread, BlockLifecycle* lifecycle,
                                           const Inspector* inspector,
                                           std::function<void()> on_initialized,
                                           const InspectOptions& inspect_options) {
  return std::make_unique<ServicesImpl>(kernel_thread, lifecycle, inspector,
                                        std::move(on_initialized), inspect_options);
}

}  // namespace swingset
