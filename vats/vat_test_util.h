// File: vat_test_util.h
//
// Test helpers for vats/ tests: a SyscallHandler that records every syscall and answers it
// (vatstore in memory, callNow from a script), builders for deliveries, and a small
// transcript recorder/source, so tests drive the real engine and assert exact syscalls.

#ifndef SWINGSETD_VATS_VAT_TEST_UTIL_H_
#define SWINGSETD_VATS_VAT_TEST_UTIL_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/vat_host.h"

namespace swingset {
namespace testing_util {

class FakeSyscallHandler : public SyscallHandler {
 public:
  SyscallResult Syscall(const VatSyscall& s) override {
    std::string text = s.ToJson().Dump();
    log.push_back(text);
    SyscallResult r;
    r.ok = true;
    switch (s.type) {
      case VatSyscall::Type::kVatstoreGet: {
        auto it = vatstore.find(s.key);
        r.data = it == vatstore.end() ? Json() : Json(it->second);
        break;
      }
      case VatSyscall::Type::kVatstoreGetNextKey: {
        auto it = vatstore.upper_bound(s.key);
        r.data = it == vatstore.end() ? Json() : Json(it->first);
        break;
      }
      case VatSyscall::Type::kVatstoreSet: vatstore[s.key] = s.value; break;
      case VatSyscall::Type::kVatstoreDelete: vatstore.erase(s.key); break;
      case VatSyscall::Type::kCallNow: r.data = CapDataToJson(call_now_result); break;
      default: break;
    }
    if (fail_type && *fail_type == s.type) {
      r.ok = false;
      r.error = "refused by test";
    }
    if (record) recorded.emplace_back(s.ToJson(), r.ToJson());
    return r;
  }

  std::vector<std::string> Take() { return std::exchange(log, {}); }

  std::vector<std::string> log;
  std::map<std::string, std::string> vatstore;
  CapData call_now_result{"#null", {}};
  std::optional<VatSyscall::Type> fail_type;
  bool record = false;
  std::vector<std::pair<Json, Json>> recorded;  // for building transcripts
};

inline CapData Cap(std::string body, std::vector<std::string> slots = {}) {
  return CapData{std::move(body), std::move(slots)};
}

inline VatDelivery Message(std::string target, std::string body,
                           std::vector<std::string> slots = {},
                           std::optional<std::string> result = std::nullopt) {
  VatDelivery d;
  d.type = VatDelivery::Type::kMessage;
  d.target = std::move(target);
  d.methargs = Cap(std::move(body), std::move(slots));
  d.result = std::move(result);
  return d;
}

inline VatDelivery StartVat(std::string body = "#{}", std::vector<std::string> slots = {}) {
  VatDelivery d;
  d.type = VatDelivery::Type::kStartVat;
  d.vat_parameters = Cap(std::move(body), std::move(slots));
  return d;
}

inline VatDelivery Notify(std::vector<Resolution> rs) {
  VatDelivery d;
  d.type = VatDelivery::Type::kNotify;
  d.resolutions = std::move(rs);
  return d;
}

inline VatDelivery Gc(VatDelivery::Type t, std::vector<std::string> vrefs) {
  VatDelivery d;
  d.type = t;
  d.vrefs = std::move(vrefs);
  return d;
}

inline VatDelivery Boyd() {
  VatDelivery d;
  d.type = VatDelivery::Type::kBringOutYourDead;
  return d;
}

// A transcript kept in memory, in the kernel's entry format.
class MemTranscript : public TranscriptSource {
 public:
  uint64_t Length() override { return entries.size(); }
  std::optional<std::string> Entry(uint64_t i) override {
    if (i >= entries.size()) return std::nullopt;
    return entries[i];
  }
  void Add(const VatDelivery& d, const std::vector<std::pair<Json, Json>>& sc,
           const DeliveryResult& r) {
    Json e = Json::MakeObject();
    e.Set("d", d.ToJson());
    Json a = Json::MakeArray();
    for (const auto& [s, res] : sc) a.Push(Json::MakeArray({s, res}));
    e.Set("sc", a);
    e.Set("r", r.ToJson());
    entries.push_back(e.Dump());
  }
  std::vector<std::string> entries;
};

}  // namespace testing_util
}  // namespace swingset

#endif  // SWINGSETD_VATS_VAT_TEST_UTIL_H_
