// inspect_load_bench: does Inspect traffic slow blocks down? Runs EndBlocks of 1,000 call_vat
// actions (counter.increment) through the real swingsetd process, alternating groups of blocks
// with no Inspect traffic and with N concurrent Inspect clients (each on its own connection,
// back to back: ListCList, ScanKV page of 1,000, GetStatus), so that both conditions share the
// machine's background load. Prints p50/p99/mean EndBlock latency per condition and the Inspect
// calls answered and refused.
//
//   inspect_load_bench [--js] [--blocks N] [--group N] [--clients N] [--client-nice N]
//                      [--server-arg ARG]...
//
// --js: the demo's JavaScript vats (deploy/demo_vats) instead of the scripted C++ counter;
// --blocks: blocks per condition (default 40); --group: blocks per alternation (default 5);
// --client-nice: run the Inspect client threads at this nice value (default 0; 19 models
// clients that do not share the validator's CPU, e.g. on another machine);
// --server-arg: passed to swingsetd (e.g. --server-arg=--inspect-nice --server-arg=0).

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace {

using namespace swingset::testing;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
    std::exit(1);
  }
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The Inspect clients: each loops over three calls while `on`, and sleeps otherwise.
class Load {
 public:
  Load(const std::string& address, int clients, int nice) : nice_(nice) {
    for (int i = 0; i < clients; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("swingsetd.bench.client", i);  // a distinct connection per client
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
      threads_.emplace_back([this, channel] { Run(v1::Inspect::NewStub(channel)); });
    }
  }
  ~Load() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Set(bool on) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_ = on;
    }
    cv_.notify_all();
  }
  uint64_t answered() const { return answered_; }
  uint64_t refused() const { return refused_; }
  uint64_t failed() const { return failed_; }
  std::string first_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_failure_;
  }

 private:
  void Run(std::unique_ptr<v1::Inspect::Stub> stub) {
    if (nice_ > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice_);
    std::string token;
    for (uint64_t n = 0;; ++n) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || on_; });
        if (stop_) return;
      }
      grpc::Status s;
      switch (n % 3) {
        case 0: {
          v1::ListCListRequest req;
          req.set_vat("bootstrap");
          req.set_page_size(1000);
          v1::ListCListResponse resp;
          s = stub->ListCList(Ctx().get(), req, &resp);
          break;
        }
        case 1: {
          v1::ScanKVRequest req;
          req.set_page_size(1000);
          req.set_page_token(token);
          v1::ScanKVResponse resp;
          s = stub->ScanKV(Ctx().get(), req, &resp);
          token = s.ok() ? resp.next_page_token() : "";
          break;
        }
        default: {
          v1::GetStatusResponse resp;
          s = stub->GetStatus(Ctx().get(), v1::GetStatusRequest(), &resp);
        }
      }
      if (s.ok()) {
        ++answered_;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused_;
      } else if (failed_++ == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        first_failure_ = swingset::StrCat("call ", n % 3, ": ", s.error_message());
      }
    }
  }

  const int nice_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool on_ = false, stop_ = false;  // guarded by mu_
  std::string first_failure_;       // guarded by mu_
  std::atomic<uint64_t> answered_{0}, refused_{0}, failed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace

int main(int argc, char** argv) {
  int blocks = 40, group = 5, clients = 16, client_nice = 0;
  bool js = false;
  std::vector<std::string> server_args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (a == "--js") {
      js = true;
      if (eq == std::string::npos && !value.empty()) --i;  // takes no value
    } else if (a == "--blocks") {
      blocks = std::max(1, std::atoi(value.c_str()));
    } else if (a == "--group") {
      group = std::max(1, std::atoi(value.c_str()));
    } else if (a == "--client-nice") {
      client_nice = std::clamp(std::atoi(value.c_str()), 0, 19);
    } else if (a == "--clients") {
      clients = std::max(1, std::atoi(value.c_str()));
    } else if (a == "--server-arg") {
      server_args.push_back(value);
    } else {
      std::fprintf(stderr,
                   "usage: inspect_load_bench [--js] [--blocks N] [--group N] [--clients N] "
                   "[--client-nice N] "
                   "[--server-arg ARG]...\n");
      return 64;
    }
  }
  std::string dir = MakeTempDir("inspect-bench");
  auto started = ServerProcess::Start({.data_dir = dir + "/data", .extra_args = server_args});
  if (!started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<ServerProcess> server = std::move(*started);
  v1::InitResponse init;
  Check(InitWith(server->lifecycle(), js ? JsGenesis(DemoVatsDir()) : ScriptedGenesis(), &init),
        "Init");
  int64_t height = 0;
  auto block = [&](int actions) {
    v1::EndBlockRequest req;
    req.set_height(++height);
    for (int a = 0; a < actions; ++a) *req.add_actions() = CallVat(a, "counter", "increment", "[1]");
    v1::BeginBlockRequest begin;
    begin.set_height(height);
    v1::BeginBlockResponse begin_resp;
    Check(server->lifecycle()->BeginBlock(Ctx().get(), begin, &begin_resp), "BeginBlock");
    auto t0 = Clock::now();
    v1::EndBlockResponse end;
    Check(server->lifecycle()->EndBlock(Ctx().get(), req, &end), "EndBlock");
    double ms = Ms(Clock::now() - t0);
    v1::CommitRequest commit;
    commit.set_height(height);
    v1::CommitResponse commit_resp;
    Check(server->lifecycle()->Commit(Ctx().get(), commit, &commit_resp), "Commit");
    return ms;
  };
  block(0);  // the bootstrap
  for (int i = 0; i < 3; ++i) block(1000);  // warm-up

  std::vector<double> quiet, loaded;
  uint64_t answered_before = 0;
  double loaded_seconds = 0;
  {
    Load load(server->address(), clients, client_nice);
    while (static_cast<int>(quiet.size()) < blocks || static_cast<int>(loaded.size()) < blocks) {
      for (int i = 0; i < group && static_cast<int>(quiet.size()) < blocks; ++i) {
        quiet.push_back(block(1000));
      }
      if (static_cast<int>(loaded.size()) < blocks) {
        load.Set(true);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the load ramp up
        auto t0 = Clock::now();
        for (int i = 0; i < group && static_cast<int>(loaded.size()) < blocks; ++i) {
          loaded.push_back(block(1000));
        }
        loaded_seconds += Ms(Clock::now() - t0) / 1000;
        load.Set(false);
      }
    }
    answered_before = load.answered();
    std::printf("| condition | blocks | EndBlock p50 ms | p99 ms | mean ms |\n|---|---|---|---|---|\n");
    auto row = [](const char* name, const std::vector<double>& v) {
      std::printf("| %s | %zu | %.1f | %.1f | %.1f |\n", name, v.size(), Percentile(v, 0.5),
                  Percentile(v, 0.99), std::accumulate(v.begin(), v.end(), 0.0) / v.size());
    };
    row("no Inspect traffic", quiet);
    std::string name = swingset::StrCat(clients, " Inspect clients");
    row(name.c_str(), loaded);
    std::printf("\nInspect calls answered: %llu (%.0f/s while loaded), refused "
                "(RESOURCE_EXHAUSTED): %llu, failed otherwise: %llu\n",
                static_cast<unsigned long long>(answered_before), answered_before / loaded_seconds,
                static_cast<unsigned long long>(load.refused()),
                static_cast<unsigned long long>(load.failed()));
    if (load.failed() > 0) std::printf("first failure: %s\n", load.first_failure().c_str());
    std::printf("p99 ratio loaded/quiet: %.2f, p50 ratio: %.2f\n",
                Percentile(loaded, 0.99) / Percentile(quiet, 0.99),
                Percentile(loaded, 0.5) / Percentile(quiet, 0.5));
  }
  server->Stop();
  RemoveDir(dir);
  return 0;
}
