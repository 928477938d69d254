// Issue 12, items 6-8, against the real swingsetd binary: store damage is refused at start with a
// message naming the data dir and a documented exit status (a damaged write-ahead log, a lost
// CURRENT file, a data dir full of other files, inconsistent host keys, and with
// --verify-on-start a store whose values were changed behind its back); Init with another
// chain's genesis, or another genesis of the same chain, is refused without a state change; a
// broken invariant and a storage failure end the process with exit statuses 70 and 74 and the
// message on stderr, not with a signal.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernel/ids.h"
#include "kernel/key_schema.h"
#include "kernel/storage/leveldb_kv_store.h"
#include "kernel/strings.h"
#include "tests/block_driver.h"
#include "tests/test_server.h"

namespace swingset {
namespace testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kExitNotAStore = 5;
constexpr int kExitCorrupt = 6;
constexpr int kExitInconsistent = 7;
constexpr int kExitVerifyMismatch = 8;
constexpr int kExitInvariant = 70;
constexpr int kExitStorage = 74;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct StartAttempt {
  bool served = false;  // it wrote its port file (then it was stopped)
  int exit_code = -1;   // when it exited by itself; -1 = killed by a signal
  int signal = 0;
  std::string output;
};

// Runs `swingsetd --data-dir data [extra]` until it either exits on its own or starts serving
// (then it is stopped with SIGTERM), at most 60 s.
StartAttempt TryStart(const std::string& data, const std::vector<std::string>& extra = {}) {
  std::string port_file = data + ".try-port";
  std::string log_file = data + ".try-log";
  fs::remove(port_file);
  fs::remove(log_file);
  std::vector<std::string> args = {SwingsetdBinary(), "--listen", "127.0.0.1:0",
                                   "--data-dir", data, "--port-file", port_file};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  StartAttempt r;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    std::string port = ReadAll(port_file);
    bool timed_out = std::chrono::steady_clock::now() > deadline;
    if ((!port.empty() && port.back() == '\n') || timed_out) {
      r.served = !timed_out;
      kill(pid, SIGTERM);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.output = ReadAll(log_file);
  return r;
}

std::string Describe(const StartAttempt& a) {
  return StrCat("served=", a.served ? "yes" : "no", " exit=", a.exit_code, " signal=", a.signal,
                "\n", a.output);
}

// Every file name in `dir`, sorted.
std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class StoreOpenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("store-open");
    data_ = dir_ + "/data";
  }
  void TearDown() override { RemoveDir(dir_); }

  std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra = {}) {
    auto s = ServerProcess::Start({.data_dir = data_, .extra_args = extra});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A fresh chain on data_: genesis and blocks 1..last; returns the state hash per height.
  std::vector<std::string> MakeChain(int64_t last) {
    std::vector<std::string> hashes;
    std::unique_ptr<ServerProcess> server = Start();
    if (!server) return hashes;
    v1::InitResponse init;
    grpc::Status s = InitWith(server->lifecycle(), ScriptedGenesis(), &init);
    EXPECT_TRUE(s.ok()) << s.error_message();
    hashes.push_back(init.state_hash());
    for (int64_t h = 1; h <= last; ++h) {
      BlockResult b = RunBlock(server->lifecycle(), RandomBlock(99, h, {.max_actions = 12}));
      EXPECT_TRUE(b.status.ok()) << b.failed_call << ": " << b.status.error_message();
      hashes.push_back(b.end.state_hash());
    }
    EXPECT_EQ(server->Stop(), 0) << server->log();
    return hashes;
  }

  // The largest write-ahead log of the store (where the blocks of the last run are).
  std::string LargestLog() {
    std::string best;
    uintmax_t best_size = 0;
    for (const fs::directory_entry& e : fs::directory_iterator(data_)) {
      if (e.path().extension() == ".log" && e.file_size() > best_size) {
        best = e.path().string();
        best_size = e.file_size();
      }
    }
    return best;
  }

  // Rewrites `key` with `fn(value)` directly in the LevelDB store (server stopped).
  void Rewrite(const std::string& key, const std::function<void(std::string*)>& fn) {
    auto store = OpenLevelDbKvStore(data_, {.create_if_missing = false});
    ASSERT_TRUE(store.ok()) << store.status();
    auto v = (*store)->Get(key);
    ASSERT_TRUE(v.ok() && v->has_value()) << key;
    std::string value = **v;
    fn(&value);
    ASSERT_TRUE((*store)->Write({KvWrite{key, value}}, true).ok());
  }

  std::string dir_, data_;
};

// ---- Item 6: damage at open

TEST_F(StoreOpenTest, DamagedWriteAheadLogIsRefused) {
  std::vector<std::string> hashes = MakeChain(40);
  ASSERT_EQ(hashes.size(), 41u);
  std::string log = LargestLog();
  ASSERT_FALSE(log.empty());
  std::string bytes = ReadAll(log);
  // Several 32 KiB log blocks, so records after the damaged one survive: LevelDB without
  // paranoid checks drops the damaged block and replays the rest, a state no block committed.
  ASSERT_GT(bytes.size(), 3u * 32768) << "the chain is too small to span several log blocks";
  for (size_t off = bytes.size() / 3; off < bytes.size() / 3 + 64; ++off) bytes[off] ^= 0x5a;
  {
    std::ofstream out(log, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  StartAttempt a = TryStart(data_);
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_EQ(a.exit_code, kExitCorrupt) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr(data_));
  EXPECT_THAT(a.output, HasSubstr("damaged"));
  // verify-state refuses it the same way.
  CommandResult v = RunSwingsetd({"verify-state", "--data-dir", data_});
  EXPECT_EQ(v.exit_code, kExitCorrupt) << v.output;
}

TEST_F(StoreOpenTest, TornTailOfTheLogIsACrashNotDamage) {
  // A record cut short at the very end of the log is what a crash in the middle of an
  // unacknowledged write leaves: the store opens at the height before it.
  std::vector<std::string> hashes = MakeChain(6);
  ASSERT_EQ(hashes.size(), 7u);
  std::string log = LargestLog();
  ASSERT_FALSE(log.empty());
  fs::resize_file(log, fs::file_size(log) - 100);
  std::unique_ptr<ServerProcess> server = Start();
  ASSERT_TRUE(server);
  v1::InitRequest req;
  v1::InitResponse init;
  ASSERT_TRUE(server->lifecycle()->Init(Ctx().get(), req, &init).ok());
  EXPECT_EQ(init.saved_height(), 5);
  EXPECT_EQ(init.state_hash(), hashes[5]);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_EQ(RunSwingsetd({"verify-state", "--data-dir", data_}).exit_code, 0);
}

TEST_F(StoreOpenTest, MissingCurrentFileIsRefusedNotAFreshGenesis) {
  MakeChain(3);
  fs::remove(fs::path(data_) / "CURRENT");
  std::vector<std::string> before = ListDir(data_);
  StartAttempt a = TryStart(data_);
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_EQ(a.exit_code, kExitNotAStore) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr(data_));
  EXPECT_THAT(a.output, HasSubstr("no CURRENT file"));
  EXPECT_THAT(a.output, HasSubstr("damaged store"));
  // Nothing was created among the old files.
  EXPECT_EQ(ListDir(data_), before);
  CommandResult v = RunSwingsetd({"verify-state", "--data-dir", data_});
  EXPECT_EQ(v.exit_code, kExitNotAStore) << v.output;
}

// A port another swingsetd already listens on is refused, not shared (gRPC's SO_REUSEPORT).
TEST_F(StoreOpenTest, ABusyPortIsRefusedNotShared) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> first = ServerProcess::Start({data_ + "-first"});
  ASSERT_TRUE(first.ok()) << first.status();
  StartAttempt a = TryStart(data_, {"--listen", StrCat("127.0.0.1:", (*first)->port())});
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_NE(a.exit_code, 0) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr("cannot listen"));
  EXPECT_EQ((*first)->Stop(), 0);
  RemoveDir(data_ + "-first");
}

TEST_F(StoreOpenTest, DataDirWithOtherFilesIsRefusedAndAnEmptyOneIsFine) {
  fs::create_directories(data_);
  {
    std::ofstream(data_ + "/notes.txt") << "not a store\n";
  }
  StartAttempt a = TryStart(data_);
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_EQ(a.exit_code, kExitNotAStore) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr(data_));
  EXPECT_THAT(a.output, HasSubstr("notes.txt"));
  EXPECT_EQ(ListDir(data_), std::vector<std::string>{"notes.txt"});

  // An empty existing directory (and LevelDB's own leftovers) is a new store.
  fs::remove(data_ + "/notes.txt");
  {
    std::ofstream(data_ + "/LOG") << "";
  }
  StartAttempt b = TryStart(data_);
  EXPECT_TRUE(b.served) << Describe(b);
}

TEST_F(StoreOpenTest, InconsistentHostStateIsRefused) {
  MakeChain(3);
  // The stored digest no longer matches the stored lanes.
  Rewrite("host.stateHash", [](std::string* v) { (*v)[0] = (*v)[0] == 'a' ? 'b' : 'a'; });
  StartAttempt a = TryStart(data_);
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_EQ(a.exit_code, kExitInconsistent) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr(data_));
  EXPECT_THAT(a.output, HasSubstr("host.stateHash"));
}

TEST_F(StoreOpenTest, StoredResponseForAnotherHeightIsRefused) {
  MakeChain(3);
  Rewrite("host.savedHeight", [](std::string* v) { *v = "2"; });
  StartAttempt a = TryStart(data_);
  EXPECT_FALSE(a.served) << Describe(a);
  EXPECT_EQ(a.exit_code, kExitInconsistent) << Describe(a);
  EXPECT_THAT(a.output, HasSubstr("saved height is 2"));
}

TEST_F(StoreOpenTest, VerifyOnStartAcceptsAGoodStoreAndRefusesAnAlteredOne) {
  std::vector<std::string> hashes = MakeChain(8);
  ASSERT_EQ(hashes.size(), 9u);
  {
    std::unique_ptr<ServerProcess> server = Start({"--verify-on-start"});
    ASSERT_TRUE(server);
    v1::InitRequest req;
    v1::InitResponse init;
    ASSERT_TRUE(server->lifecycle()->Init(Ctx().get(), req, &init).ok());
    EXPECT_EQ(init.saved_height(), 8);
    EXPECT_EQ(init.state_hash(), hashes[8]);
    EXPECT_EQ(server->Stop(), 0);
  }
  // A consensus value changed behind the store's back: the host keys still agree with each
  // other, so only the full recompute can tell.
  Rewrite(keys::VatStoreKey(VatId(2), "count"), [](std::string* v) { (*v)[0] ^= 0x01; });
  StartAttempt plain = TryStart(data_);
  EXPECT_TRUE(plain.served) << Describe(plain);
  StartAttempt checked = TryStart(data_, {"--verify-on-start"});
  EXPECT_FALSE(checked.served) << Describe(checked);
  EXPECT_EQ(checked.exit_code, kExitVerifyMismatch) << Describe(checked);
  EXPECT_THAT(checked.output, HasSubstr(data_));
  EXPECT_THAT(checked.output, HasSubstr(hashes[8]));
  // Changed back, it starts again.
  Rewrite(keys::VatStoreKey(VatId(2), "count"), [](std::string* v) { (*v)[0] ^= 0x01; });
  StartAttempt again = TryStart(data_, {"--verify-on-start"});
  EXPECT_TRUE(again.served) << Describe(again);
}

// ---- Item 7: another genesis on an existing store

TEST_F(StoreOpenTest, InitWithAnotherGenesisIsRefusedWithoutStateChange) {
  std::unique_ptr<ServerProcess> server = Start();
  ASSERT_TRUE(server);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok());
  for (int64_t h = 1; h <= 3; ++h) {
    ASSERT_TRUE(RunBlock(server->lifecycle(), RandomBlock(5, h)).status.ok());
  }
  // A block in progress survives a refused Init.
  v1::BeginBlockRequest begin;
  begin.set_height(4);
  v1::BeginBlockResponse begun;
  ASSERT_TRUE(server->lifecycle()->BeginBlock(Ctx().get(), begin, &begun).ok());

  v1::Genesis other = ScriptedGenesis();
  other.set_chain_id("another-chain");
  grpc::Status s = InitWith(server->lifecycle(), other, &init);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("'swingsetd-test'"));
  EXPECT_THAT(s.error_message(), HasSubstr("'another-chain'"));

  // Same chain id, other contents: refused too.
  v1::Genesis changed = ScriptedGenesis();
  changed.mutable_vats(1)->set_parameters_json("{\"start\":100}");
  s = InitWith(server->lifecycle(), changed, &init);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("another genesis"));

  v1::EndBlockRequest end = RandomBlock(5, 4);
  v1::EndBlockResponse ended;
  ASSERT_TRUE(server->lifecycle()->EndBlock(Ctx().get(), end, &ended).ok());
  v1::CommitRequest commit;
  commit.set_height(4);
  v1::CommitResponse committed;
  ASSERT_TRUE(server->lifecycle()->Commit(Ctx().get(), commit, &committed).ok());
  const std::string after4 = DumpCommittedStore(server->inspect());

  // The store's own genesis, or none, is accepted as before.
  ASSERT_TRUE(InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok());
  EXPECT_FALSE(init.genesis_applied());
  EXPECT_EQ(init.saved_height(), 4);
  EXPECT_EQ(init.chain_id(), "swingsetd-test");
  v1::InitRequest bare;
  ASSERT_TRUE(server->lifecycle()->Init(Ctx().get(), bare, &init).ok());
  EXPECT_EQ(init.saved_height(), 4);

  // Refused again after a restart, with nothing changed.
  ASSERT_EQ(server->Stop(), 0);
  server = Start();
  ASSERT_TRUE(server);
  s = InitWith(server->lifecycle(), other, &init);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(DumpCommittedStore(server->inspect()), after4);
  ASSERT_TRUE(InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok());
  EXPECT_EQ(init.saved_height(), 4);
}

// ---- Item 8: halts are exit statuses, not signals

void ExpectHaltAtCommit(std::unique_ptr<ServerProcess> server, int want_exit,
                        const std::string& want_text) {
  ASSERT_TRUE(server);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok());
  ASSERT_TRUE(RunBlock(server->lifecycle(), RandomBlock(3, 1)).status.ok());
  BlockResult b = RunBlock(server->lifecycle(), RandomBlock(3, 2));
  EXPECT_FALSE(b.status.ok());
  EXPECT_EQ(b.failed_call, "Commit");
  EXPECT_EQ(server->WaitForDeath(30000), 0) << "killed by a signal:\n" << server->log();
  EXPECT_EQ(server->Stop(), want_exit) << server->log();
  EXPECT_THAT(server->log(), HasSubstr("swingsetd: fatal: "));
  EXPECT_THAT(server->log(), HasSubstr(want_text));
}

TEST_F(StoreOpenTest, BrokenInvariantExitsWithStatus70) {
  ExpectHaltAtCommit(Start({"--crash-at", "commit_before_write:2:check"}), kExitInvariant,
                     "CHECK failed");
  // Nothing of block 2 was written; the store continues from height 1.
  std::unique_ptr<ServerProcess> server = Start();
  ASSERT_TRUE(server);
  v1::InitResponse init;
  ASSERT_TRUE(InitWith(server->lifecycle(), ScriptedGenesis(), &init).ok());
  EXPECT_EQ(init.saved_height(), 1);
}

TEST_F(StoreOpenTest, StorageFailureExitsWithStatus74) {
  ExpectHaltAtCommit(Start({"--crash-at", "commit_before_write:2:storage"}), kExitStorage,
                     "storage failure");
}

}  // namespace
}  // namespace testing
}  // namespace swingset
