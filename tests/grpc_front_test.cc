// The gRPC front (issue 12, items 9, 11, 12), over real gRPC against the built swingsetd:
//   - requests that are not valid protobuf of their type (garbage, truncated, a string field
//     that is not UTF-8) get INVALID_ARGUMENT saying what is wrong, on every Lifecycle and
//     Inspect method, and change nothing;
//   - Inspect runs on low-priority workers with a bounded queue (RESOURCE_EXHAUSTED when full);
//   - listeners: a unix socket, mutual TLS, a separate Inspect listener, and the refusal of a
//     non-loopback Lifecycle listener without TLS.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

using ::testing::HasSubstr;
namespace pb = ::google::protobuf;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- raw calls -------------------------------------------------------------------------------

// One unary call with hand-made request bytes.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, std::string* response = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  auto ctx = Ctx(30000);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(ctx.get(), method, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (response != nullptr && status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    response->clear();
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string LengthDelimited(int field, const std::string& payload) {
  return Varint((static_cast<uint64_t>(field) << 3) | 2) + Varint(payload.size()) + payload;
}

// A request of `type` whose shallowest string field holds bytes that are not UTF-8 (the
// surrogate U+D800 as CESU bytes, then a stray continuation byte), and that field's path as the
// server names it. Empty when `type` has no string field within three levels.
bool BadUtf8Request(const pb::Descriptor* type, int depth, std::string* bytes, std::string* path) {
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
      *bytes = LengthDelimited(f->number(), "ok\xED\xA0\x80\x80");
      *path = f->name() + (f->is_repeated() ? "[0]" : "");
      return true;
    }
  }
  if (depth >= 3) return false;
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    if (f->type() != pb::FieldDescriptor::TYPE_MESSAGE || f->is_map()) continue;
    std::string inner, inner_path;
    if (BadUtf8Request(f->message_type(), depth + 1, &inner, &inner_path)) {
      *bytes = LengthDelimited(f->number(), inner);
      *path = f->name() + (f->is_repeated() ? "[0]" : "") + "." + inner_path;
      return true;
    }
  }
  return false;
}

struct Method {
  std::string path;  // "/swingsetd.v1.Lifecycle/Init"
  const pb::Descriptor* input;
};

std::vector<Method> AllMethods() {
  std::vector<Method> out;
  for (const pb::ServiceDescriptor* service :
       {v1::InitRequest::descriptor()->file()->FindServiceByName("Lifecycle"),
        v1::ScanKVRequest::descriptor()->file()->FindServiceByName("Inspect")}) {
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* m = service->method(i);
      out.push_back({StrCat("/", service->full_name(), "/", m->name()), m->input_type()});
    }
  }
  return out;
}

// ---- fixtures --------------------------------------------------------------------------------

class FrontTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("front"); }
  void TearDown() override {
    server_.reset();
    RemoveDir(dir_);
  }
  void Start(std::vector<std::string> extra_args = {}) {
    auto s = ServerProcess::Start({.data_dir = dir_ + "/data", .extra_args = extra_args});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  // Init plus one block with actions, so Inspect has something to show.
  void InitChain() {
    v1::InitResponse init;
    ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &init).ok());
    v1::EndBlockRequest b1;
    b1.set_height(1);
    *b1.add_actions() = CallVat(1, "counter", "increment", "[2]");
    BlockResult r = RunBlock(server_->lifecycle(), b1);
    ASSERT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message();
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

// ---- item 9: odd requests ----------------------------------------------------------------------

TEST_F(FrontTest, MalformedRequestsAreInvalidArgumentWithAReasonOnEveryMethod) {
  Start();
  InitChain();
  std::string before = DumpCommittedStore(server_->inspect());
  ASSERT_FALSE(before.empty());

  // A real EndBlock request, cut short inside its last action.
  v1::EndBlockRequest real;
  real.set_height(2);
  for (int i = 0; i < 3; ++i) *real.add_actions() = CallVat(10 + i, "counter", "increment", "[1]");
  std::string real_bytes = real.SerializeAsString();

  std::vector<std::string> without_strings;
  for (const Method& m : AllMethods()) {
    SCOPED_TRACE(m.path);
    std::string type = m.input->full_name();
    struct Case {
      std::string name, bytes, expect;
    };
    std::vector<Case> cases = {
        {"garbage", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "malformed"},
        {"field number 0", std::string("\x00\x01", 2), "malformed"},
        {"truncated length-delimited field", "\x0a\x05" "ab", "truncated"},
        {"truncated varint", "\x08\x80", "truncated"},
    };
    std::string utf8_bytes, utf8_path;
    if (BadUtf8Request(m.input, 0, &utf8_bytes, &utf8_path)) {
      cases.push_back({"invalid UTF-8", utf8_bytes, StrCat("field ", utf8_path, " is not valid UTF-8")});
    } else {
      without_strings.push_back(m.path);
    }
    if (m.path == "/swingsetd.v1.Lifecycle/EndBlock") {
      cases.push_back({"real request cut short", real_bytes.substr(0, real_bytes.size() - 3),
                       "truncated"});
    }
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      grpc::Status s = RawCall(server_->channel(), m.path, c.bytes);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr(StrCat("request is not a valid ", type, ": ")));
      EXPECT_THAT(s.error_message(), HasSubstr(c.expect));
    }
  }
  // Every other request has a string field to spoil.
  EXPECT_THAT(without_strings, ::testing::UnorderedElementsAre(
                                   "/swingsetd.v1.Lifecycle/BeginBlock",
                                   "/swingsetd.v1.Lifecycle/Commit",
                                   "/swingsetd.v1.Inspect/GetStatus"));

  // Nothing changed, and the chain carries on: the same answers as before, then block 2.
  EXPECT_EQ(DumpCommittedStore(server_->inspect()), before);
  v1::EndBlockRequest b2;
  b2.set_height(2);
  *b2.add_actions() = CallVat(5, "counter", "increment", "[3]");
  BlockResult r = RunBlock(server_->lifecycle(), b2);
  ASSERT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message();
  EXPECT_EQ(r.end.actions_consumed(), 1u);
  EXPECT_TRUE(server_->running());
}

TEST_F(FrontTest, RawServingAnswersExactlyWhatTheTypedStubsSee) {
  Start();
  InitChain();
  // The same request through the generic stub and the generated one: identical bytes back.
  v1::ScanKVRequest req;
  req.set_page_size(7);
  std::string raw;
  ASSERT_TRUE(RawCall(server_->channel(), "/swingsetd.v1.Inspect/ScanKV", req.SerializeAsString(),
                      &raw)
                  .ok());
  v1::ScanKVResponse typed;
  ASSERT_TRUE(server_->inspect()->ScanKV(Ctx().get(), req, &typed).ok());
  EXPECT_EQ(raw, typed.SerializeAsString());
  EXPECT_EQ(typed.entries_size(), 7);
  // A valid request with an unknown field is still accepted (proto3 keeps unknown fields).
  std::string with_unknown = req.SerializeAsString() + LengthDelimited(999, "\xff\xfe");
  EXPECT_TRUE(RawCall(server_->channel(), "/swingsetd.v1.Inspect/ScanKV", with_unknown).ok());
}

// ---- item 11: the Inspect pool ----------------------------------------------------------------

// The threads of `pid` named `name`: {nice, scheduling policy} from /proc/PID/task/TID/stat.
std::vector<std::pair<int, int>> ThreadPriorities(pid_t pid, const std::string& name) {
  std::vector<std::pair<int, int>> out;
  for (const auto& task : std::filesystem::directory_iterator(StrCat("/proc/", pid, "/task"))) {
    std::string comm = ReadFile(task.path().string() + "/comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm != name) continue;
    std::string stat = ReadFile(task.path().string() + "/stat");
    // Fields after the ")" that closes comm: state is field 3; nice is 19, policy 41.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> fields;
    std::string f;
    while (rest >> f) fields.push_back(f);
    if (fields.size() < 39) continue;
    out.push_back({std::atoi(fields[19 - 3].c_str()), std::atoi(fields[41 - 3].c_str())});
  }
  return out;
}

TEST_F(FrontTest, InspectRunsOnLowPriorityWorkers) {
  Start({"--inspect-threads", "3"});
  InitChain();
  v1::GetStatusResponse status;
  ASSERT_TRUE(server_->inspect()->GetStatus(Ctx().get(), {}, &status).ok());
  int found = 0;
  for (int i = 0; i < 3; ++i) {
    for (auto [nice, policy] : ThreadPriorities(server_->pid(), StrCat("inspect-", i))) {
      EXPECT_EQ(nice, 19);
      EXPECT_EQ(policy, SCHED_BATCH);
      ++found;
    }
  }
  EXPECT_EQ(found, 3);
  EXPECT_TRUE(ThreadPriorities(server_->pid(), "inspect-3").empty());
}

TEST_F(FrontTest, InspectRefusesWithResourceExhaustedWhenItsQueueIsFull) {
  Start({"--inspect-threads", "1", "--inspect-max-queued", "0"});
  InitChain();
  // Bursts of concurrent full-page scans on one worker with no queue: some are refused, some
  // answered; Lifecycle is unaffected.
  int ok = 0, exhausted = 0, other = 0;
  std::string message;
  for (int round = 0; round < 20 && (exhausted == 0 || ok == 0); ++round) {
    constexpr int kCalls = 32;
    grpc::CompletionQueue cq;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
    std::vector<v1::ScanKVResponse> resps(kCalls);
    std::vector<grpc::Status> statuses(kCalls);
    std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ScanKVResponse>>> calls;
    v1::ScanKVRequest req;
    req.set_page_size(1000);
    for (int i = 0; i < kCalls; ++i) {
      ctxs.push_back(Ctx(30000));
      calls.push_back(server_->inspect()->AsyncScanKV(ctxs.back().get(), req, &cq));
      calls.back()->Finish(&resps[i], &statuses[i], reinterpret_cast<void*>(i + 1));
    }
    for (int i = 0; i < kCalls; ++i) {
      void* tag;
      bool got;
      ASSERT_TRUE(cq.Next(&tag, &got));
    }
    for (const grpc::Status& s : statuses) {
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
        message = s.error_message();
      } else {
        ++other;
      }
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0);
  EXPECT_EQ(other, 0);
  EXPECT_THAT(message, HasSubstr("Inspect is at capacity"));
  // Once the burst is over the worker takes calls again (it may need a moment to go idle).
  grpc::Status after;
  for (int i = 0; i < 100; ++i) {
    v1::GetStatusResponse status;
    after = server_->inspect()->GetStatus(Ctx().get(), {}, &status);
    if (after.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(after.ok()) << after.error_message();
}

// ---- item 12: listeners ------------------------------------------------------------------------

// Starts swingsetd with `args` (no --listen added) and waits for its port file; the caller
// stops it with SIGTERM.
class RawServer {
 public:
  RawServer(const std::string& dir, std::vector<std::string> args) : dir_(dir) {
    std::string port_file = dir + "/port";
    log_ = dir + "/log";
    std::vector<std::string> full = {SwingsetdBinary(), "--data-dir", dir + "/data",
                                     "--port-file", port_file, "--log-level", "warn"};
    full.insert(full.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = ReadFile(port_file);
      if (!text.empty() && text.back() == '\n') {
        ready_ = true;
        break;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~RawServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  std::string log() const { return ReadFile(log_); }

 private:
  std::string dir_, log_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

TEST_F(FrontTest, UnixSocketServesLifecycleAndInspectOwnerOnly) {
  std::string sock = dir_ + "/swingsetd.sock";
  RawServer server(dir_, {"--listen", "unix:" + sock});
  ASSERT_TRUE(server.ready()) << server.log();
  EXPECT_EQ(ReadFile(dir_ + "/port"), "0\n");
  struct stat st;
  ASSERT_EQ(stat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto channel = grpc::CreateChannel("unix:" + sock, grpc::InsecureChannelCredentials());
  auto lifecycle = v1::Lifecycle::NewStub(channel);
  auto inspect = v1::Inspect::NewStub(channel);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(lifecycle.get(), ScriptedGenesis(), &init).ok());
  v1::EndBlockRequest b1;
  b1.set_height(1);
  *b1.add_actions() = CallVat(1, "counter", "increment", "[2]");
  BlockResult r = RunBlock(lifecycle.get(), b1);
  ASSERT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message();
  v1::GetStatusResponse status;
  ASSERT_TRUE(inspect->GetStatus(Ctx().get(), {}, &status).ok());
  EXPECT_EQ(status.saved_height(), 1);
}

TEST_F(FrontTest, SeparateInspectListenerSplitsTheServices) {
  std::string inspect_sock = dir_ + "/inspect.sock";
  Start({"--inspect-listen", "unix:" + inspect_sock});
  // The main listener: Lifecycle yes, Inspect no.
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server_->lifecycle(), ScriptedGenesis(), &init).ok());
  v1::GetStatusResponse status;
  EXPECT_EQ(server_->inspect()->GetStatus(Ctx().get(), {}, &status).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // The Inspect listener: Inspect yes, Lifecycle no; health reports Inspect there.
  auto channel = grpc::CreateChannel("unix:" + inspect_sock, grpc::InsecureChannelCredentials());
  EXPECT_TRUE(v1::Inspect::NewStub(channel)->GetStatus(Ctx().get(), {}, &status).ok());
  EXPECT_TRUE(status.initialized());
  v1::BeginBlockRequest begin;
  begin.set_height(1);
  v1::BeginBlockResponse begin_resp;
  EXPECT_EQ(v1::Lifecycle::NewStub(channel)->BeginBlock(Ctx().get(), begin, &begin_resp)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

// ---- mutual TLS ----

int Sh(const std::string& command) {
  return std::system(("(" + command + ") >/dev/null 2>&1").c_str());
}

// A CA at dir/NAME-ca.{pem,key}.
void MakeCa(const std::string& dir, const std::string& name) {
  ASSERT_EQ(Sh(StrCat("cd ", dir, " && openssl req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=", name,
                      "-ca -keyout ", name, "-ca.key -out ", name, "-ca.pem")),
            0);
}

// A certificate for NAME at dir/NAME.{pem,key}, issued by CA.
void MakeCert(const std::string& dir, const std::string& ca, const std::string& name,
              const std::string& san) {
  std::ofstream(dir + "/" + name + ".ext") << "subjectAltName=" << san << "\n";
  ASSERT_EQ(Sh(StrCat("cd ", dir, " && openssl req -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -subj /CN=", name, " -keyout ", name,
                      ".key -out ", name, ".csr && openssl x509 -req -in ", name, ".csr -CA ", ca,
                      "-ca.pem -CAkey ", ca, "-ca.key -CAcreateserial -days 2 -extfile ", name,
                      ".ext -out ", name, ".pem")),
            0);
}

TEST_F(FrontTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheClientCa) {
  std::string pki = dir_ + "/pki";
  std::filesystem::create_directories(pki);
  MakeCa(pki, "good");
  MakeCa(pki, "other");
  MakeCert(pki, "good", "server", "DNS:localhost,IP:127.0.0.1");
  MakeCert(pki, "good", "client", "DNS:client");
  MakeCert(pki, "other", "stranger", "DNS:stranger");
  if (HasFatalFailure()) return;
  Start({"--tls-cert", pki + "/server.pem", "--tls-key", pki + "/server.key", "--tls-client-ca",
         pki + "/good-ca.pem"});
  std::string address = StrCat("localhost:", server_->port());

  auto channel_with = [&](const std::string& client) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadFile(pki + "/good-ca.pem");
    if (!client.empty()) {
      o.pem_private_key = ReadFile(pki + "/" + client + ".key");
      o.pem_cert_chain = ReadFile(pki + "/" + client + ".pem");
    }
    return grpc::CreateChannel(address, grpc::SslCredentials(o));
  };
  // The right client certificate: Lifecycle and Inspect work.
  auto good = channel_with("client");
  v1::InitResponse init;
  grpc::Status s = InitWith(v1::Lifecycle::NewStub(good).get(), ScriptedGenesis(), &init);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << server_->log();
  v1::GetStatusResponse status;
  EXPECT_TRUE(v1::Inspect::NewStub(good)->GetStatus(Ctx().get(), {}, &status).ok());
  EXPECT_TRUE(status.initialized());

  // No client certificate, one from another CA, or no TLS at all: refused.
  for (const std::string& client : {std::string(), std::string("stranger")}) {
    SCOPED_TRACE(client.empty() ? "no client certificate" : client);
    v1::BeginBlockRequest begin;
    begin.set_height(1);
    v1::BeginBlockResponse resp;
    grpc::Status refused =
        v1::Lifecycle::NewStub(channel_with(client))->BeginBlock(Ctx(10000).get(), begin, &resp);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  }
  v1::BeginBlockRequest begin;
  begin.set_height(1);
  v1::BeginBlockResponse resp;
  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  EXPECT_FALSE(v1::Lifecycle::NewStub(plain)->BeginBlock(Ctx(10000).get(), begin, &resp).ok());
  // Nothing refused reached the kernel: block 1 is still to begin.
  BlockResult r = RunBlock(v1::Lifecycle::NewStub(good).get(), v1::EndBlockRequest());
  EXPECT_TRUE(r.status.ok()) << r.failed_call << ": " << r.status.error_message();
}

// Runs swingsetd with `args` and waits for it to exit; a server still running after 10 s (one
// that wrongly started serving) is killed and reported as exit code -2.
CommandResult RunExpectingExit(const std::string& dir, std::vector<std::string> args) {
  std::string log = dir + "/run.log";
  std::filesystem::remove(log);
  args.insert(args.begin(), SwingsetdBinary());
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  CommandResult r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.exit_code = -2;
      r.output = ReadFile(log);
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = ReadFile(log);
  return r;
}

TEST_F(FrontTest, NonLoopbackLifecycleWithoutTlsIsRefusedAtStartup) {
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "192.0.2.1:26660", "example.com:1"}) {
    SCOPED_TRACE(listen);
    CommandResult r = RunExpectingExit(dir_, {"--listen", listen, "--data-dir", dir_ + "/data"});
    EXPECT_EQ(r.exit_code, 64);
    EXPECT_THAT(r.output, HasSubstr("refusing to serve Lifecycle on non-loopback address"));
    EXPECT_THAT(r.output, HasSubstr("--insecure-allow-remote-lifecycle"));
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/data"));
  }
  // Half a TLS configuration is a usage error too.
  CommandResult r = RunExpectingExit(
      dir_, {"--listen", "0.0.0.0:0", "--tls-cert", "x.pem", "--data-dir", dir_ + "/data"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_THAT(r.output, HasSubstr("needs all of --tls-cert, --tls-key and --tls-client-ca"));
  // Other loopback spellings start without TLS.
  for (const char* listen : {"127.0.0.2:0", "[::1]:0", "localhost:0"}) {
    SCOPED_TRACE(listen);
    RawServer server(dir_, {"--listen", listen});
    EXPECT_TRUE(server.ready()) << server.log();
  }
}

}  // namespace
}  // namespace testing
}  // namespace swingset
