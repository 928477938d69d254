// File: test_server.h
//
// Runs the real swingsetd binary as a child process on its own LevelDB data dir, for end-to-end
// tests and the demo driver: start (waiting until it serves), stop with SIGTERM, kill -9, and
// gRPC stubs bound to it. Also temp dirs and running `swingsetd verify-state`.
//
// Thread-safety: a ServerProcess is used from one thread.

#ifndef SWINGSETD_TESTS_TEST_SERVER_H_
#define SWINGSETD_TESTS_TEST_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "swingsetd/v1/inspect.grpc.pb.h"
#include "swingsetd/v1/lifecycle.grpc.pb.h"

namespace swingset {
namespace testing {

namespace v1 = ::swingsetd::v1;

// True in the ASan+UBSan build (deploy/test.sh's second pass), where the server under test is
// built the same way: its allocator keeps freed memory in quarantine, so RSS figures say nothing
// about what the server itself holds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// The swingsetd binary under test (set by CMake): swingsetd_testing, the server with the
// scripted test vats (server/scripted_vat_host.h) that ScriptedGenesis uses.
std::string SwingsetdBinary();
// The production swingsetd (no scripted vats), what validators, the demo and the Go tests run.
std::string ProductionSwingsetdBinary();

// A fresh empty directory under $TMPDIR (or /tmp), removed by the caller via RemoveDir.
std::string MakeTempDir(const std::string& tag);
void RemoveDir(const std::string& dir);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr
};
CommandResult RunSwingsetd(const std::vector<std::string>& args);

class ServerProcess {
 public:
  struct Options {
    std::string data_dir;
    std::vector<std::string> extra_args;  // e.g. {"--crash-at", "commit_after_write:5"}
    std::string binary;                   // empty: SwingsetdBinary()
    bool quiet = true;                    // log level warn
  };

  // Starts swingsetd and waits until it listens (or exits: then an error with its log).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const Options& options);
  ~ServerProcess();  // kills the process if it is still running

  int port() const { return port_; }
  std::string address() const;
  pid_t pid() const { return pid_; }

  v1::Lifecycle::Stub* lifecycle() { return lifecycle_.get(); }
  v1::Inspect::Stub* inspect() { return inspect_.get(); }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  // SIGTERM and wait; returns the exit code (-1 if it died of a signal).
  int Stop();
  // SIGKILL and wait.
  void Kill();
  // Waits for the process to exit on its own (e.g. at a crash point); returns the signal number
  // that killed it, or 0 if it exited normally; -1 if it is still running after `timeout_ms`.
  int WaitForDeath(int timeout_ms);
  bool running();
  // The server's log so far.
  std::string log() const;

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = 0;
  std::string log_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::Inspect::Stub> inspect_;
};

// A context with a deadline (default 60 s) for test RPCs.
std::unique_ptr<grpc::ClientContext> Ctx(int timeout_ms = 60000);

// Every key and value of the committed store ("key=value\n" in key order), read through
// Inspect.ScanKV page by page; an RPC failure is a test failure.
std::string DumpCommittedStore(v1::Inspect::Stub* inspect);

}  // namespace testing
}  // namespace swingset

#endif  // SWINGSETD_TESTS_TEST_SERVER_H_
