// File: kernel_harness.h
//
// A kernel on an in-memory store with scripted vats, for unit tests. RunChecked() runs cranks
// one at a time and runs the full invariant checker after each one.

#ifndef SWINGSETD_KERNEL_TESTING_KERNEL_HARNESS_H_
#define SWINGSETD_KERNEL_TESTING_KERNEL_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "kernel/kernel_impl.h"
#include "kernel/testing/fake_vat_host.h"

namespace swingset {

// A genesis of scripted vats named `names` (each vat's source is its name), no transcripts,
// reaping off, with `bootstrap` (may be empty) as the bootstrap vat.
GenesisConfig ScriptedGenesis(const std::vector<std::string>& names, const std::string& bootstrap);

// Opens a kernel over `store` and `host` with SHA-256 for the activity hash (CHECK on error).
std::unique_ptr<Kernel> OpenScriptedKernel(KvStore* store, VatHost* host);

class KernelHarness {
 public:
  // store may be null: an in-memory store is made.
  explicit KernelHarness(KvStore* store = nullptr);

  absl::Status Genesis(const GenesisConfig& config);
  // Reopens the kernel over the same store (as after a restart); uncommitted work is lost.
  void Reopen();

  // Runs cranks until idle (or max_cranks), checking invariants after each. Returns the number
  // of cranks, or an error naming the crank whose state broke an invariant.
  absl::StatusOr<uint64_t> RunChecked(uint64_t max_cranks = 0);

  absl::Status Commit() { return kernel_->CommitBlock({}, false); }

  KernelImpl* kernel() { return kernel_.get(); }
  FakeVatHost* host() { return &host_; }
  KvStore* store() { return store_; }
  VatId Vat(const std::string& name);
  std::optional<std::string> Get(const std::string& key) { return kernel_->Get(key); }
  // The export kref of a vat's vref (e.g. "o+0").
  std::string KrefOf(const std::string& vat_name, const std::string& vref);

 private:
  std::unique_ptr<KvStore> owned_store_;
  KvStore* store_;
  FakeVatHost host_;
  std::unique_ptr<KernelImpl> kernel_;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_TESTING_KERNEL_HARNESS_H_
