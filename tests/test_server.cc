#include "tests/test_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "kernel/strings.h"

namespace swingset {
namespace testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork/exec with stdout+stderr to `log_path`. Returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // A fresh signal mask: the test may have blocked signals.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string SwingsetdBinary() { return SWINGSETD_BINARY; }
std::string ProductionSwingsetdBinary() { return SWINGSETD_PRODUCTION_BINARY; }

std::string MakeTempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = StrCat(base && *base ? base : "/tmp", "/swingsetd-", tag, "-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  if (dir == nullptr) std::abort();
  return dir;
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

CommandResult RunSwingsetd(const std::vector<std::string>& args) {
  std::string dir = MakeTempDir("cmd");
  std::string log = dir + "/out";
  std::vector<std::string> full = {SwingsetdBinary()};
  full.insert(full.end(), args.begin(), args.end());
  pid_t pid = Spawn(full, log);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = ReadFile(log);
  RemoveDir(dir);
  return r;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const Options& options) {
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  std::string port_file = options.data_dir + ".port";
  p->log_path_ = options.data_dir + ".log";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {options.binary.empty() ? SwingsetdBinary() : options.binary,
                                   "--listen", "127.0.0.1:0", "--data-dir", options.data_dir,
                                   "--port-file", port_file};
  if (options.quiet) {
    args.push_back("--log-level");
    args.push_back("warn");
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  p->pid_ = Spawn(args, p->log_path_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFile(port_file);
    if (!text.empty() && text.back() == '\n') {
      p->port_ = std::atoi(text.c_str());
      break;
    }
    if (!p->running()) {
      return absl::UnavailableError(StrCat("swingsetd exited (status ", p->exit_status_,
                                           "): ", p->log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (p->port_ == 0) return absl::DeadlineExceededError("swingsetd did not start in 30 s");
  grpc::ChannelArguments ch_args;
  ch_args.SetMaxReceiveMessageSize(64 << 20);
  ch_args.SetMaxSendMessageSize(64 << 20);
  p->channel_ =
      grpc::CreateCustomChannel(p->address(), grpc::InsecureChannelCredentials(), ch_args);
  p->lifecycle_ = v1::Lifecycle::NewStub(p->channel_);
  p->inspect_ = v1::Inspect::NewStub(p->channel_);
  return p;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && running()) Kill();
}

std::string ServerProcess::address() const { return StrCat("127.0.0.1:", port_); }

std::string ServerProcess::log() const { return ReadFile(log_path_); }

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_status_ = status;
    pid_ = -1;
  }
  return false;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
  // Close our connection first, as an exiting client would.
  lifecycle_.reset();
  inspect_.reset();
  channel_.reset();
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  exit_status_ = status;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = status;
  pid_ = -1;
}

int ServerProcess::WaitForDeath(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFSIGNALED(exit_status_) ? WTERMSIG(exit_status_) : 0;
}

std::unique_ptr<grpc::ClientContext> Ctx(int timeout_ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return ctx;
}

std::string DumpCommittedStore(v1::Inspect::Stub* inspect) {
  std::string out;
  v1::ScanKVRequest req;
  req.set_page_size(1000);
  for (;;) {
    v1::ScanKVResponse resp;
    grpc::Status s = inspect->ScanKV(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::KVEntry& e : resp.entries()) out += e.key() + "=" + e.value() + "\n";
    if (!s.ok() || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

}  // namespace testing

}  // namespace swingset
