// File: syscall_fuzzer.cc
//
// libFuzzer harness for the syscall boundary: whatever a vat sends the kernel must never crash
// it or break an invariant. The input is lines of syscall JSON in the array form a vat host
// hands the kernel (e.g. ["send","o-50",{"methargs":{"body":"#[\"hi\",[]]","slots":[]},
// "result":"p+5"}]); a line "--" ends one delivery's syscalls. Two scripted vats run on an
// in-memory kernel: "fuzz" makes the syscalls of its deliveries in input order, and "peer"
// answers every message by resolving its result with the message's own arguments (slots
// included), so promises, c-list entries and GC traffic flow both ways. The host sends "fuzz"
// one message per delivery's worth of input; the full invariant checker runs after every crank.
// A refused syscall or a terminated vat is the expected outcome of bad input; a CHECK failure,
// a sanitizer report or a broken invariant is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/json.h"
#include "kernel/testing/kernel_harness.h"

namespace swingset {
namespace {

// The input's deliveries: each a list of syscall texts.
std::vector<std::vector<std::string>> SplitInput(std::string_view in) {
  std::vector<std::vector<std::string>> out(1);
  size_t pos = 0;
  while (pos <= in.size() && out.size() <= 64) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    if (line == "--") {
      out.emplace_back();
    } else if (!line.empty() && out.back().size() < 64) {
      out.back().emplace_back(line);
    }
    pos = end + 1;
  }
  return out;
}

void Fail(const absl::Status& s) {
  std::fprintf(stderr, "syscall_fuzz: %s\n", s.ToString().c_str());
  std::abort();
}

void RunOne(std::string_view input) {
  std::vector<std::vector<std::string>> deliveries = SplitInput(input);
  size_t next = 0;
  KernelHarness h;
  h.host()->log_enabled = false;
  h.host()->Register("fuzz", [&](const VatDelivery& d, VatCtx& ctx) {
    if (d.type != VatDelivery::Type::kMessage || next >= deliveries.size()) return;
    for (const std::string& text : deliveries[next++]) {
      absl::StatusOr<Json> j = Json::Parse(text);
      if (!j.ok()) continue;  // a host that cannot parse its vat's syscall never sends it
      absl::StatusOr<VatSyscall> sc = VatSyscall::FromJson(*j);
      if (!sc.ok()) continue;
      ctx.Syscall(*sc);
    }
  });
  h.host()->Register("peer", [](const VatDelivery& d, VatCtx& ctx) {
    if (d.type != VatDelivery::Type::kMessage || !d.result) return;
    VatSyscall r;
    r.type = VatSyscall::Type::kResolve;
    r.resolutions.push_back(Resolution{*d.result, false, d.methargs});
    ctx.Syscall(r);
  });
  if (absl::Status s = h.Genesis(ScriptedGenesis({"fuzz", "peer"}, "fuzz")); !s.ok()) Fail(s);
  if (absl::StatusOr<uint64_t> n = h.RunChecked(2000); !n.ok()) Fail(n.status());
  while (next < deliveries.size()) {
    CapData args{"#[]", {}};
    absl::StatusOr<Kref> kp = h.kernel()->QueueToVatRoot("fuzz", "go", args);
    if (!kp.ok()) break;
    if (absl::StatusOr<uint64_t> n = h.RunChecked(2000); !n.ok()) Fail(n.status());
  }
  if (absl::Status s = h.Commit(); !s.ok()) Fail(s);
}

}  // namespace
}  // namespace swingset

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  swingset::RunOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
