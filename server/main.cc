// swingsetd: the SwingSet kernel as a gRPC sidecar (docs/DESIGN.md §1, §9).
//
//   swingsetd [--listen HOST:PORT|unix:PATH] [--inspect-listen HOST:PORT|unix:PATH]
//             [--tls-cert F --tls-key F --tls-client-ca F] [--insecure-allow-remote-lifecycle]
//             [--data-dir DIR] [--log-level L] [--log-format F] [--port-file PATH]
//             [--max-message-bytes N] [--inspect-threads N] [--inspect-max-queued N]
//             [--inspect-nice N] [--js-delivery-timeout-seconds N] [--js-heap-limit-mib N]
//             [--js-jit on|off|eager] [--verify-on-start] [--js-extra-gcs-per-delivery N]
//             [--js-meter-chunk N]
//   swingsetd verify-state [--data-dir DIR]
//
// Exit status (README "Exit status"): 0 clean shutdown (SIGTERM/SIGINT) or verify-state match;
// 1 verify-state mismatch; 2 runtime error (cannot listen, kernel failed to open); 3 the store
// cannot be opened; 4 the store is locked by another process; 5 the data dir is not empty but
// holds no store; 6 LevelDB found the store damaged; 7 the stored host state is inconsistent;
// 8 --verify-on-start: the recomputed state hash differs from the stored one; 64 bad command
// line (including a non-loopback Lifecycle listener without TLS); 70 a broken kernel invariant
// (CHECK); 74 a storage failure while serving.

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "consensus/state_hash.h"
#include "kernel/base.h"
#include "kernel/ids.h"
#include "kernel/storage/fault_kv_store.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/strings.h"
#include "server/block_lifecycle.h"
#include "server/grpc_services.h"
#include "server/host_keys.h"
#include "server/inspector.h"
#include "server/kernel_thread.h"
#include "server/log.h"
#include "server/vat_host_router.h"
#ifdef SWINGSETD_TESTING_VATS
#include "server/scripted_vat_host.h"
#endif
#include "vats/js_engine.h"
#include "vats/js_vat_host.h"

namespace swingset {
namespace {

constexpr int kExitMismatch = 1;
constexpr int kExitRuntime = 2;
constexpr int kExitStore = 3;
constexpr int kExitLocked = 4;
constexpr int kExitNotAStore = 5;
constexpr int kExitCorrupt = 6;
constexpr int kExitInconsistent = 7;
constexpr int kExitVerifyMismatch = 8;
constexpr int kExitUsage = 64;
// 70 and 74 (kExitInvariantFailure, kExitStorageFailure) are kernel/base.h's.

constexpr const char* kUsage =
    "usage: swingsetd [--listen HOST:PORT|unix:PATH] [--data-dir DIR] [options]\n"
    "       swingsetd verify-state [--data-dir DIR] [options]\n"
    "\n"
    "  --listen ADDR              gRPC address, HOST:PORT or unix:PATH (default\n"
    "                             127.0.0.1:26660); serves Lifecycle, and Inspect unless\n"
    "                             --inspect-listen is given. A unix socket is made mode 0600.\n"
    "  --tls-cert FILE --tls-key FILE --tls-client-ca FILE\n"
    "                             mutual TLS on --listen: the server's PEM certificate chain and\n"
    "                             key, and the CA that client certificates must chain to\n"
    "                             (clients without a valid certificate are refused)\n"
    "  --insecure-allow-remote-lifecycle\n"
    "                             allow a non-loopback --listen without TLS (refused otherwise)\n"
    "  --inspect-listen ADDR      serve Inspect (plaintext, read-only) on ADDR instead, and not\n"
    "                             on --listen\n"
    "  --inspect-threads N        Inspect worker threads, run at the lowest priority (default 1)\n"
    "  --inspect-max-queued N     Inspect calls waiting for a worker before more are refused\n"
    "                             with RESOURCE_EXHAUSTED (default 64)\n"
    "  --inspect-nice N           nice value of the Inspect workers, 0..19 (default 19; 0 runs\n"
    "                             them at the kernel thread's priority)\n"
    "  --data-dir DIR             LevelDB store (default ./data)\n"
    "  --log-level LEVEL          debug | info | warn | error (default info)\n"
    "  --log-format FORMAT        text | json (default text)\n"
    "  --port-file PATH           write the bound port of --listen here once serving (0 for a\n"
    "                             unix socket)\n"
    "  --max-message-bytes N      largest request accepted (default 16777216)\n"
    "  --js-delivery-timeout-seconds N\n"
    "                             wall-clock budget of one JS vat delivery; a delivery that\n"
    "                             runs longer fails and terminates its vat (default 30, 0 = none)\n"
    "  --js-heap-limit-mib N      SpiderMonkey heap limit for all JS vats (default 1024)\n"
    "  --js-jit MODE              SpiderMonkey's JIT tiers: on (default), off (interpreter\n"
    "                             only) or eager (every tier at once, Ion on this thread);\n"
    "                             node-local, results and hashes must not change\n"
    "  --verify-on-start          before serving, recompute the state hash from a full scan\n"
    "                             of the store (as verify-state does); exit 8 if it differs\n"
    "  --js-extra-gcs-per-delivery N (or --testing-extra-gcs-per-delivery N)\n"
    "                             testing only: force N full GCs before every JS delivery\n"
    "                             (results and hashes must not change)\n"
    "  --js-meter-chunk N         testing only: hand metered vats their computron budget N at\n"
    "                             a time (default 0: all at once; results and hashes must not\n"
    "                             change)\n"
    "  --crash-at POINT:HEIGHT[:MODE]\n"
    "                             testing only: at a lifecycle point (end_block_mid,\n"
    "                             end_block_done, commit_before_write, commit_after_write)\n"
    "                             SIGKILL self (MODE kill, the default), fail a CHECK (check,\n"
    "                             exit 70) or halt as on a storage failure (storage, exit 74)\n"
    "  --store-faults KIND:N[,KIND:N...][,sticky]\n"
    "                             testing only: once serving, make the store fail its N-th\n"
    "                             get, iterate (iterator step) or write call (and every later\n"
    "                             one with sticky), as a broken disk would\n"
    "\n"
    "verify-state recomputes the state hash from a full scan of the store and exits 0 when it\n"
    "equals the committed one, 1 when it differs, 2 on error.\n"
    "\n"
    "Exit status: 0 clean stop; 2 runtime error; 3 store cannot be opened; 4 store locked;\n"
    "5 data dir not empty but no store; 6 store damaged; 7 stored host state inconsistent;\n"
    "8 --verify-on-start mismatch; 64 usage; 70 broken invariant; 74 storage failure.\n";

struct Flags {
  std::string command = "serve";
  std::string listen = "127.0.0.1:26660";
  std::string inspect_listen;  // empty: Inspect is served on `listen`
  std::string tls_cert, tls_key, tls_client_ca;
  bool insecure_allow_remote_lifecycle = false;
  int inspect_threads = 1;
  int inspect_nice = 19;
  uint64_t inspect_max_queued = 64;
  std::string data_dir = "./data";
  std::string port_file;
  std::string crash_at;
  std::optional<StoreFaults> store_faults;
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  int max_message_bytes = 16 << 20;
  uint64_t js_delivery_timeout_seconds = 30;
  uint64_t js_heap_limit_mib = 1024;
  uint64_t testing_extra_gcs = 0;
  std::string js_jit = "on";
  uint64_t js_meter_chunk = 0;
  bool verify_on_start = false;
};

[[noreturn]] void UsageError(std::string_view message) {
  std::fprintf(stderr, "swingsetd: %.*s\n\n%s", static_cast<int>(message.size()), message.data(),
               kUsage);
  std::exit(kExitUsage);
}

bool IsUnixAddress(const std::string& addr) {
  return addr.rfind("unix:", 0) == 0 || addr.rfind("unix-abstract:", 0) == 0;
}

// A listen address is HOST:PORT ([IPV6]:PORT) or unix:PATH / unix-abstract:NAME.
bool ValidListenAddress(const std::string& addr) {
  if (IsUnixAddress(addr)) return addr.size() > addr.find(':') + 1;
  size_t colon = addr.rfind(':');
  return colon != std::string::npos && colon + 1 < addr.size();
}

// True when only this machine can reach `addr`: a unix socket or a loopback host (127.0.0.0/8,
// ::1, localhost). Anything else (0.0.0.0, ::, a name, an interface address) is remote.
bool IsLocalOnlyAddress(const std::string& addr) {
  if (IsUnixAddress(addr)) return true;
  std::string host = addr.substr(0, addr.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  if (!args.empty() && args[0] == "verify-state") {
    f.command = "verify-state";
    i = 1;
  }
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--insecure-allow-remote-lifecycle") {  // flags without a value
      f.insecure_allow_remote_lifecycle = true;
      continue;
    }
    if (a == "--verify-on-start") {
      if (f.command != "serve") UsageError("--verify-on-start is for serving");
      f.verify_on_start = true;
      continue;
    }
    std::string value;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0) UsageError(StrCat("unexpected argument '", a, "'"));
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) UsageError(StrCat(a, " needs a value"));
      value = args[++i];
    }
    if (a == "--listen") {
      f.listen = value;
    } else if (a == "--inspect-listen") {
      f.inspect_listen = value;
    } else if (a == "--tls-cert") {
      f.tls_cert = value;
    } else if (a == "--tls-key") {
      f.tls_key = value;
    } else if (a == "--tls-client-ca") {
      f.tls_client_ca = value;
    } else if (a == "--inspect-threads") {
      uint64_t n;
      if (!ParseNat(value, &n) || n < 1 || n > 64) UsageError("--inspect-threads must be 1..64");
      f.inspect_threads = static_cast<int>(n);
    } else if (a == "--inspect-nice") {
      uint64_t n;
      if (!ParseNat(value, &n) || n > 19) UsageError("--inspect-nice must be 0..19");
      f.inspect_nice = static_cast<int>(n);
    } else if (a == "--inspect-max-queued") {
      if (!ParseNat(value, &f.inspect_max_queued) || f.inspect_max_queued > 100000) {
        UsageError("--inspect-max-queued must be 0..100000");
      }
    } else if (a == "--data-dir") {
      f.data_dir = value;
    } else if (a == "--port-file") {
      f.port_file = value;
    } else if (a == "--crash-at") {
      f.crash_at = value;
    } else if (a == "--store-faults") {
      absl::StatusOr<StoreFaults> faults = StoreFaults::Parse(value);
      if (!faults.ok()) UsageError(std::string(faults.status().message()));
      f.store_faults = *faults;
    } else if (a == "--log-level") {
      if (!log::ParseLevel(value, &f.level)) UsageError(StrCat("bad --log-level '", value, "'"));
    } else if (a == "--log-format") {
      if (!log::ParseFormat(value, &f.format)) UsageError(StrCat("bad --log-format '", value, "'"));
    } else if (a == "--max-message-bytes") {
      uint64_t n;
      if (!ParseNat(value, &n) || n < 1024 || n > (1u << 30)) {
        UsageError("--max-message-bytes must be 1024..2^30");
      }
      f.max_message_bytes = static_cast<int>(n);
    } else if (a == "--js-delivery-timeout-seconds") {
      if (!ParseNat(value, &f.js_delivery_timeout_seconds) ||
          f.js_delivery_timeout_seconds > 86400) {
        UsageError("--js-delivery-timeout-seconds must be 0..86400");
      }
    } else if (a == "--js-heap-limit-mib") {
      if (!ParseNat(value, &f.js_heap_limit_mib) || f.js_heap_limit_mib < 16 ||
          f.js_heap_limit_mib > 4095) {
        UsageError("--js-heap-limit-mib must be 16..4095");
      }
    } else if (a == "--testing-extra-gcs-per-delivery" || a == "--js-extra-gcs-per-delivery") {
      if (!ParseNat(value, &f.testing_extra_gcs) || f.testing_extra_gcs > 16) {
        UsageError(StrCat(a, " must be 0..16"));
      }
    } else if (a == "--js-jit") {
      if (value != "on" && value != "off" && value != "eager") {
        UsageError("--js-jit must be on, off or eager");
      }
      f.js_jit = value;
    } else if (a == "--js-meter-chunk") {
      if (!ParseNat(value, &f.js_meter_chunk) || f.js_meter_chunk > (uint64_t{1} << 40)) {
        UsageError("--js-meter-chunk must be 0..2^40");
      }
    } else {
      UsageError(StrCat("unknown flag ", a));
    }
  }
  if (!ValidListenAddress(f.listen)) UsageError("--listen must be HOST:PORT or unix:PATH");
  if (!f.inspect_listen.empty() && !ValidListenAddress(f.inspect_listen)) {
    UsageError("--inspect-listen must be HOST:PORT or unix:PATH");
  }
  if (!f.inspect_listen.empty() && f.inspect_listen == f.listen) {
    UsageError("--inspect-listen must differ from --listen");
  }
  int tls_parts = !f.tls_cert.empty() + !f.tls_key.empty() + !f.tls_client_ca.empty();
  if (tls_parts != 0 && tls_parts != 3) {
    UsageError("mutual TLS needs all of --tls-cert, --tls-key and --tls-client-ca");
  }
  if (tls_parts == 0 && !IsLocalOnlyAddress(f.listen) && !f.insecure_allow_remote_lifecycle) {
    UsageError(StrCat("refusing to serve Lifecycle on non-loopback address '", f.listen,
                      "' without TLS: anyone who can reach it could drive the chain. Use a "
                      "loopback or unix:PATH address, or mutual TLS (--tls-cert, --tls-key, "
                      "--tls-client-ca), or pass --insecure-allow-remote-lifecycle"));
  }
  if (f.data_dir.empty()) UsageError("--data-dir must not be empty");
  return f;
}

// Opens the store or exits with a clear message naming the data dir, and the exit status of
// what is wrong.
std::unique_ptr<KvStore> OpenStoreOrExit(const std::string& dir, bool create) {
  LevelDbOptions options;
  options.create_if_missing = create;
  absl::StatusOr<std::unique_ptr<KvStore>> store = OpenLevelDbKvStore(dir, options);
  if (store.ok()) return std::move(*store);
  std::string message(store.status().message());
  switch (store.status().code()) {
    case absl::StatusCode::kUnavailable:
      if (message.find("lock") != std::string::npos) {
        log::Error("the store is locked: another process (a running swingsetd?) holds it",
                   {{"data_dir", dir}, {"error", message}});
        std::exit(kExitLocked);
      }
      break;
    case absl::StatusCode::kFailedPrecondition:
      log::Error("the data dir is not a swingsetd store: refusing to create one among its files",
                 {{"data_dir", dir}, {"error", message}});
      std::exit(kExitNotAStore);
    case absl::StatusCode::kDataLoss:
      log::Error("the store is damaged (LevelDB found corruption; its LOG file in the data dir "
                 "has details): restore the data dir from a backup or a state sync",
                 {{"data_dir", dir}, {"error", message}});
      std::exit(kExitCorrupt);
    default:
      break;
  }
  log::Error("cannot open the store", {{"data_dir", dir}, {"error", message}});
  std::exit(kExitStore);
}

// Before serving: the cheap consistency check of the committed host state and, with
// --verify-on-start, the full recompute of the state hash. Exits on failure.
void CheckStoreOrExit(const KvStore& store, const Flags& flags) {
  absl::Status s = BlockLifecycle::CheckStoredHostState(store);
  if (!s.ok()) {
    log::Error("the store's committed host state is inconsistent",
               {{"data_dir", flags.data_dir}, {"error", s.ToString()}});
    std::exit(s.code() == absl::StatusCode::kDataLoss ? kExitInconsistent : kExitStore);
  }
  if (!flags.verify_on_start) return;
  std::unique_ptr<KvSnapshot> snap = store.GetSnapshot();
  absl::StatusOr<std::optional<LtHash16>> stored = ReadStoredStateHash(*snap);
  if (!stored.ok()) {
    log::Error("verify-on-start: cannot read the stored state hash",
               {{"data_dir", flags.data_dir}, {"error", stored.status().ToString()}});
    std::exit(kExitStore);
  }
  if (!stored->has_value()) {
    log::Info("verify-on-start: the store has no committed state yet",
              {{"data_dir", flags.data_dir}});
    return;
  }
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<LtHash16> computed = ComputeStateHash(*snap, [](uint64_t keys_done) {
    log::Info("verify-on-start: hashing", {{"consensus_keys", StrCat(keys_done)}});
  });
  if (!computed.ok()) {
    log::Error("verify-on-start: the full scan failed",
               {{"data_dir", flags.data_dir}, {"error", computed.status().ToString()}});
    std::exit(computed.status().code() == absl::StatusCode::kDataLoss ? kExitCorrupt
                                                                       : kExitStore);
  }
  if (!(*computed == **stored)) {
    log::Error("verify-on-start: the state hash recomputed from the store differs from the "
               "stored one (the store's contents were changed or damaged)",
               {{"data_dir", flags.data_dir},
                {"stored", (*stored)->DigestHex()},
                {"recomputed", computed->DigestHex()}});
    std::exit(kExitVerifyMismatch);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  log::Info("verify-on-start: OK", {{"state_hash", computed->DigestHex()},
                                    {"millis", StrCat(ms)}});
}

int VerifyStateCommand(const Flags& flags) {
  std::unique_ptr<KvStore> store = OpenStoreOrExit(flags.data_dir, /*create=*/false);
  absl::StatusOr<std::optional<std::string>> height = store->Get(host_keys::kSavedHeight);
  if (!height.ok() || !height->has_value()) {
    log::Error("no committed state in this store", {{"data_dir", flags.data_dir}});
    return kExitRuntime;
  }
  // The consensus full recompute (docs/STATE_HASH.md, "verify-state"): progress lines and the
  // stored and recomputed digests go to stdout.
  auto start = std::chrono::steady_clock::now();
  bool matches = false;
  absl::Status s = swingset::VerifyState(*store, std::cout, &matches);
  if (!s.ok()) {
    log::Error("verify-state failed", {{"error", s.ToString()}});
    return kExitRuntime;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  absl::StatusOr<std::optional<std::string>> digest = store->Get(kStateHashKey);
  std::string stored = digest.ok() && digest->has_value() ? **digest : "";
  if (!matches) {
    std::printf("MISMATCH height=%s stored=%s\n", (*height)->c_str(), stored.c_str());
    return kExitMismatch;
  }
  std::printf("OK height=%s state_hash=%s (%lld ms)\n", (*height)->c_str(), stored.c_str(),
              static_cast<long long>(ms));
  return 0;
}

BlockLifecycle::CrashHook MakeCrashHook(const std::string& spec) {
  if (spec.empty()) return nullptr;
  // POINT:HEIGHT[:MODE]
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  uint64_t h;
  if (parts.size() < 2 || parts.size() > 3 || !ParseNat(parts[1], &h)) {
    UsageError("--crash-at must be POINT:HEIGHT[:MODE]");
  }
  const std::string point = parts[0];
  if (point != "end_block_mid" && point != "end_block_done" && point != "commit_before_write" &&
      point != "commit_after_write") {
    UsageError(StrCat("unknown --crash-at point '", point, "'"));
  }
  const std::string mode = parts.size() == 3 ? parts[2] : "kill";
  if (mode != "kill" && mode != "check" && mode != "storage") {
    UsageError(StrCat("unknown --crash-at mode '", mode, "' (kill, check or storage)"));
  }
  int64_t height = static_cast<int64_t>(h);
  return [point, height, mode](std::string_view at, int64_t at_height) {
    if (at != point || at_height != height) return;
    log::Warn("crash point reached", {{"point", point}, {"height", StrCat(height)},
                                      {"mode", mode}});
    SWINGSET_CHECK(mode != "check") << "testing: --crash-at " << point << ":" << height << ":check";
    SWINGSET_CHECK_STORAGE(mode != "storage")
        << "testing: --crash-at " << point << ":" << height << ":storage";
    raise(SIGKILL);
  };
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return absl::InvalidArgumentError(StrCat(path, " is empty"));
  return text;
}

// Mutual TLS for the --listen listener: the server presents --tls-cert/--tls-key, and every
// client must present a certificate that chains to --tls-client-ca.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsCredentials(
    const Flags& flags) {
  ASSIGN_OR_RETURN(std::string cert, ReadWholeFile(flags.tls_cert));
  ASSIGN_OR_RETURN(std::string key, ReadWholeFile(flags.tls_key));
  ASSIGN_OR_RETURN(std::string ca, ReadWholeFile(flags.tls_client_ca));
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ca;
  options.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(options);
}

JsVatHostOptions JsOptions(const Flags& flags) {
  JsVatHostOptions o;
  o.delivery_timeout = std::chrono::milliseconds(flags.js_delivery_timeout_seconds * 1000);
  o.gc_max_bytes = static_cast<uint32_t>(flags.js_heap_limit_mib << 20);
  o.testing_extra_gcs_per_delivery = static_cast<uint32_t>(flags.testing_extra_gcs);
  o.jit = flags.js_jit != "off";
  o.eager_jit = flags.js_jit == "eager";
  o.testing_meter_chunk = flags.js_meter_chunk;
  o.console_to_stderr = flags.level == log::Level::kDebug;
  // The host runs on the kernel thread: its native stack quota leaves 32 MiB of the thread's
  // stack for the kernel and the engine's own frames below the limit.
  o.native_stack_quota = KernelThread::kStackBytes - (size_t{32} << 20);
  return o;
}

int Serve(const Flags& flags) {
  // Signals are taken by one waiting thread; every other thread inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<KvStore> store = OpenStoreOrExit(flags.data_dir, /*create=*/true);
  FaultKvStore* faults = nullptr;
  if (flags.store_faults) {
    std::unique_ptr<FaultKvStore> f = NewFaultKvStore(std::move(store), *flags.store_faults);
    faults = f.get();
    store = std::move(f);
  }
  CheckStoreOrExit(*store, flags);
  KernelThread kernel_thread;

  // The vat hosts and the kernel live on the kernel thread: the JS host's engine (one
  // JSContext per process) may only be created, used and destroyed there.
  std::unique_ptr<VatHostRouter> vat_host;
  std::unique_ptr<BlockLifecycle> lifecycle;
  absl::Status open_status;
  auto tear_down = [&] {
    kernel_thread.Call([&] {
      if (lifecycle) lifecycle->AbortPendingBlock();
      lifecycle.reset();
      vat_host.reset();
    });
    kernel_thread.Stop();
  };
  kernel_thread.Call([&] {
#ifdef SWINGSETD_TESTING_VATS
    std::unique_ptr<VatHost> scripted = std::make_unique<ScriptedVatHost>();
#else
    std::unique_ptr<VatHost> scripted;  // the production build has no test vats
#endif
    vat_host = std::make_unique<VatHostRouter>(NewJsVatHost(JsOptions(flags)),
                                               std::move(scripted));
    BlockLifecycle::Options options;
    options.store = store.get();
    options.vat_host = vat_host.get();
    options.crash_hook = MakeCrashHook(flags.crash_at);
    absl::StatusOr<std::unique_ptr<BlockLifecycle>> l = BlockLifecycle::Open(std::move(options));
    if (l.ok()) {
      lifecycle = std::move(*l);
    } else {
      open_status = l.status();
    }
  });
  if (!lifecycle) {
    log::Error("cannot open the kernel on the store",
               {{"data_dir", flags.data_dir}, {"error", open_status.ToString()}});
    tear_down();
    return kExitRuntime;
  }
  Inspector inspector(store.get());

  // One server for --listen and, with --inspect-listen, a second one for Inspect alone: a
  // gRPC server cannot choose services by listening port.
  struct Listener {
    std::string address;
    std::shared_ptr<grpc::ServerCredentials> credentials;
    std::vector<std::string> health_names;  // the services whose health it reports
    int port = 0;
    std::unique_ptr<grpc::Server> server;
  };
  const bool split = !flags.inspect_listen.empty();
  std::vector<Listener> listeners(split ? 2 : 1);
  listeners[0].address = flags.listen;
  listeners[0].health_names = {"", "swingsetd.v1.Lifecycle"};
  if (!split) listeners[0].health_names.push_back("swingsetd.v1.Inspect");
  if (flags.tls_cert.empty()) {
    listeners[0].credentials = grpc::InsecureServerCredentials();
  } else {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls = MutualTlsCredentials(flags);
    if (!tls.ok()) {
      log::Error("cannot set up TLS", {{"error", std::string(tls.status().message())}});
      tear_down();
      return kExitUsage;
    }
    listeners[0].credentials = *tls;
  }
  if (split) {
    listeners[1].address = flags.inspect_listen;
    listeners[1].credentials = grpc::InsecureServerCredentials();
    listeners[1].health_names = {"", "swingsetd.v1.Inspect"};
  }

  if (split && !IsLocalOnlyAddress(flags.inspect_listen)) {
    log::Warn("Inspect is served without TLS on a non-loopback address: anyone who can reach it "
              "can read the committed state",
              {{"inspect_listen", flags.inspect_listen}});
  }

  std::mutex server_mu;
  bool servers_up = false;  // guarded by server_mu
  auto set_serving = [&](bool serving) {
    std::lock_guard<std::mutex> lock(server_mu);
    if (!servers_up) return;
    for (Listener& l : listeners) {
      for (const std::string& name : l.health_names) {
        l.server->GetHealthCheckService()->SetServingStatus(name, serving);
      }
    }
  };
  Services::InspectOptions inspect_options;
  inspect_options.threads = flags.inspect_threads;
  inspect_options.max_queued = static_cast<size_t>(flags.inspect_max_queued);
  inspect_options.nice = flags.inspect_nice;
  std::unique_ptr<Services> services = Services::Create(
      &kernel_thread, lifecycle.get(), &inspector, [&] { set_serving(true); }, inspect_options);

  if (faults) {
    log::Warn("testing: the store will fail calls (--store-faults)", {});
    faults->Arm();
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  {
    std::lock_guard<std::mutex> lock(server_mu);
    bool ok = true;
    for (size_t i = 0; i < listeners.size() && ok; ++i) {
      Listener& l = listeners[i];
      grpc::ServerBuilder builder;
      // gRPC sets SO_REUSEPORT by default: a second swingsetd on a busy port would start and
      // share its connections (a Go app could reach another node's sidecar). Refuse instead.
      builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
      builder.AddListeningPort(l.address, l.credentials, &l.port);
      builder.SetMaxReceiveMessageSize(flags.max_message_bytes);
      // Genesis params are refused when they allow a larger EndBlock response, so no answer the
      // chain depends on is ever cut off here.
      builder.SetMaxSendMessageSize(static_cast<int>(kMaxEndBlockResponseBytes));
      if (i == 0) services->RegisterLifecycle(&builder);
      if (i == 1 || !split) services->RegisterInspect(&builder);
      // A unix socket is created owner-only (then chmod'ed, in case it already existed).
      mode_t old_mask = umask(0177);
      l.server = builder.BuildAndStart();
      umask(old_mask);
      bool bound = l.server && (IsUnixAddress(l.address) || l.port != 0);
      if (bound && l.address.rfind("unix:", 0) == 0) {
        chmod(l.address.substr(5).c_str(), 0600);
      }
      if (!bound) {
        bool tls = i == 0 && !flags.tls_cert.empty();
        log::Error(tls ? "cannot listen (is the TLS certificate/key pair valid PEM?)"
                       : "cannot listen",
                   {{"listen", l.address}});
        ok = false;
      }
    }
    if (!ok) {
      for (Listener& l : listeners) {
        if (l.server) l.server->Shutdown();
        l.server.reset();
      }
      // (servers_up stays false: set_serving does nothing)
    } else {
      servers_up = true;
      for (Listener& l : listeners) {
        for (const std::string& name : l.health_names) {
          l.server->GetHealthCheckService()->SetServingStatus(name, false);
        }
      }
    }
  }
  if (!servers_up) {
    services->Stop();
    tear_down();
    return kExitRuntime;
  }
  if (IsUnixAddress(listeners[0].address)) listeners[0].port = 0;
  if (!flags.port_file.empty()) {
    std::string tmp = flags.port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << listeners[0].port << "\n";
    }
    std::rename(tmp.c_str(), flags.port_file.c_str());
  }
  log::Info("serving", {{"listen", flags.listen},
                        {"port", StrCat(listeners[0].port)},
                        {"tls", flags.tls_cert.empty() ? "off" : "mutual"},
                        {"inspect_listen", split ? flags.inspect_listen : flags.listen},
                        {"data_dir", flags.data_dir}});

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    set_serving(false);
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
    for (Listener& l : listeners) l.server->Shutdown(deadline);
  });
  for (Listener& l : listeners) l.server->Wait();
  signal_thread.join();
  services->Stop();

  tear_down();
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace swingset

int main(int argc, char** argv) {
  swingset::Flags flags = swingset::ParseFlags(argc, argv);
  swingset::log::Configure(flags.level, flags.format);
  if (flags.command == "verify-state") return swingset::VerifyStateCommand(flags);
  // SpiderMonkey for the whole process: initialized before the kernel thread creates the JS
  // vat host, shut down after Serve() has destroyed it.
  swingset::JsProcess js_process;
  return swingset::Serve(flags);
}
