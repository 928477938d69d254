#include "consensus/state_hash.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "kernel/base.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {
namespace {

// Non-consensus key ranges, skipped by the full scan with one Seek each. keys::IsConsensusKey
// is still what decides, per key; these only let the scan jump over a whole range. Every key
// with prefix P sorts before P with its final '.' replaced by '/'.
constexpr std::string_view kLocalPrefix = "local.";
constexpr std::string_view kLocalEnd = "local/";
constexpr std::string_view kHostPrefix = "host.";
constexpr std::string_view kHostEnd = "host/";

std::string Printable(std::string_view bytes) { return absl::CHexEscape(ToAbsl(bytes)); }

// Reader is KvStore or KvSnapshot (both have the same Get).
template <typename Reader>
absl::Status ApplyWritesImpl(const Reader& before, const StateWriteWithBaseSource& visit_writes,
                             LtHash16* hash) {
  LtHash16 updated = *hash;
  LtHashBatch batch;
  absl::Status status;
  std::string prev_key;
  bool first = true;
  visit_writes([&](std::string_view key, const std::optional<std::string>& value,
                   const std::optional<std::string>* committed) {
    if (!status.ok()) return;
    if (!first && key <= std::string_view(prev_key)) {
      status = absl::InvalidArgumentError(
          StrCat("state hash writes must be net writes in strictly increasing key order: \"",
                 Printable(key), "\" after \"", Printable(prev_key), "\""));
      return;
    }
    first = false;
    prev_key.assign(key.data(), key.size());
    if (!keys::IsConsensusKey(key)) return;
    absl::StatusOr<std::optional<std::string>> old =
        committed ? absl::StatusOr<std::optional<std::string>>(*committed) : before.Get(key);
    if (!old.ok()) {
      status = old.status();
      return;
    }
    if (old->has_value() && value.has_value() && **old == *value) return;
    if (old->has_value()) batch.Remove(key, **old);
    if (value.has_value()) batch.Add(key, *value);
  });
  RETURN_IF_ERROR(status);
  batch.ApplyTo(&updated);
  *hash = updated;
  return absl::OkStatus();
}

// Adapts a plain write source: every write has an unknown committed value.
StateWriteWithBaseSource WithoutBase(const StateWriteSource& source) {
  return [&source](const StateWriteWithBaseVisitor& fn) {
    source([&fn](std::string_view key, const std::optional<std::string>& value) {
      fn(key, value, nullptr);
    });
  };
}

}  // namespace

absl::Status ApplyWrites(const KvStore& before, const StateWriteSource& visit_writes,
                         LtHash16* hash) {
  return ApplyWritesImpl(before, WithoutBase(visit_writes), hash);
}

absl::Status ApplyWrites(const KvSnapshot& before, const StateWriteSource& visit_writes,
                         LtHash16* hash) {
  return ApplyWritesImpl(before, WithoutBase(visit_writes), hash);
}

absl::Status ApplyWritesWithBase(const KvStore& before, const StateWriteWithBaseSource& visit_writes,
                                 LtHash16* hash) {
  return ApplyWritesImpl(before, visit_writes, hash);
}

absl::Status ApplyWrites(const KvStore& before, const KvBatch& writes, LtHash16* hash) {
  return ApplyWritesImpl(
      before,
      [&writes](const StateWriteWithBaseVisitor& fn) {
        for (const KvWrite& w : writes) fn(w.key, w.value, nullptr);
      },
      hash);
}

absl::StatusOr<LtHash16> ComputeStateHash(const KvSnapshot& snap,
                                          const std::function<void(uint64_t keys_done)>& progress) {
  LtHash16 hash;
  LtHashBatch batch;
  uint64_t done = 0;
  std::unique_ptr<KvIterator> it = snap.NewIterator();
  it->Seek("");
  while (it->Valid()) {
    std::string_view key = it->key();
    if (!keys::IsConsensusKey(key)) {
      if (key.substr(0, kLocalPrefix.size()) == kLocalPrefix) {
        it->Seek(kLocalEnd);
      } else if (key.substr(0, kHostPrefix.size()) == kHostPrefix) {
        it->Seek(kHostEnd);
      } else {
        it->Next();
      }
      continue;
    }
    batch.Add(key, it->value());
    ++done;
    if (progress && done % kStateHashProgressInterval == 0) progress(done);
    it->Next();
  }
  RETURN_IF_ERROR(it->status());
  batch.ApplyTo(&hash);
  if (progress) progress(done);
  return hash;
}

KvBatch StateHashHostWrites(const LtHash16& hash) {
  KvBatch writes;
  writes.push_back({std::string(kStateHashKey), hash.DigestHex()});
  writes.push_back({std::string(kStateHashLanesKey), hash.Serialize()});
  return writes;
}

absl::StatusOr<std::optional<LtHash16>> ReadStoredStateHash(const KvSnapshot& snap) {
  ASSIGN_OR_RETURN(std::optional<std::string> lanes, snap.Get(kStateHashLanesKey));
  ASSIGN_OR_RETURN(std::optional<std::string> digest, snap.Get(kStateHashKey));
  if (!lanes.has_value() && !digest.has_value()) return std::optional<LtHash16>();
  if (!lanes.has_value() || !digest.has_value()) {
    return absl::DataLossError(StrCat(
        "stored state hash is incomplete: ", lanes.has_value() ? kStateHashKey : kStateHashLanesKey,
        " is missing"));
  }
  absl::StatusOr<LtHash16> hash = LtHash16::Deserialize(*lanes);
  if (!hash.ok()) {
    return absl::DataLossError(StrCat(kStateHashLanesKey, ": ", hash.status().message()));
  }
  std::string lanes_digest = hash->DigestHex();
  if (*digest != lanes_digest) {
    return absl::DataLossError(StrCat(kStateHashKey, " is \"", Printable(*digest),
                                      "\" but the stored lanes digest to ", lanes_digest));
  }
  return std::optional<LtHash16>(*std::move(hash));
}

absl::Status VerifyState(const KvStore& store, std::ostream& progress_out, bool* matches) {
  *matches = false;
  std::unique_ptr<KvSnapshot> snap = store.GetSnapshot();
  ASSIGN_OR_RETURN(std::optional<std::string> lanes, snap->Get(kStateHashLanesKey));
  ASSIGN_OR_RETURN(std::optional<std::string> digest, snap->Get(kStateHashKey));
  if (!lanes.has_value()) {
    return absl::FailedPreconditionError(
        StrCat("no stored state hash to verify: ", kStateHashLanesKey, " is missing"));
  }
  if (!digest.has_value()) {
    return absl::FailedPreconditionError(
        StrCat("no stored state hash to verify: ", kStateHashKey, " is missing"));
  }
  absl::StatusOr<LtHash16> stored = LtHash16::Deserialize(*lanes);
  if (!stored.ok()) {
    return absl::DataLossError(StrCat(kStateHashLanesKey, ": ", stored.status().message()));
  }

  auto report = [&progress_out](uint64_t done) {
    progress_out << "verify-state: hashed " << done << " consensus keys" << std::endl;
  };
  ASSIGN_OR_RETURN(LtHash16 computed, ComputeStateHash(*snap, report));
  std::string computed_digest = computed.DigestHex();
  *matches = *stored == computed && *digest == computed_digest;
  progress_out << "stored digest (" << kStateHashKey << "):             " << Printable(*digest)
               << "\n"
               << "stored lanes digest (" << kStateHashLanesKey << "): " << stored->DigestHex()
               << "\n"
               << "recomputed digest:                          " << computed_digest << "\n"
               << "verify-state: " << (*matches ? "OK" : "MISMATCH") << std::endl;
  return absl::OkStatus();
}

}  // namespace swingset
