// File: gc_actions.h
//
// GcActionSet: the kernel's pending GC actions (docs/KERNEL_SPEC.md §8.2, §8.3), kept parsed and
// sorted in memory over the one consensus key that stores them.
//
// On disk the set is the key `gcActions`: a JSON array of "<vatID> <type> <kref>" strings in
// plain string order (as Agoric's kernel stores it; DO NOT CHANGE, it is consensus state).
// Rewriting that array at every GC step made GC quadratic in the number of pending actions, so
// the set lives here in memory and is serialized at most once per Flush(). Plain string order of
// the whole action is the selection order of §8.3: vat IDs compare as strings and are followed
// by a space, the type names happen to sort in priority order (dropExport < retireExport <
// retireImport), and krefs come last. So each (vat, type) group is one contiguous run, already
// in kref string order.
//
// In memory each action is a small fixed-size Action (vat number, type, kref kind and number)
// rather than its string, in a btree ordered by ActionLess, which orders Actions exactly as
// their strings sort: vat numbers in decimal string order ("v1 " < "v10" < "v2": a number whose
// decimal form is a prefix of another's sorts first, since the space after it is below every
// digit), then the type, then the kref's prefix as a string (kd < ko < kp), then its number in
// decimal string order (the string ends there, so again a prefix sorts first). The strings are
// only built by List() and Flush(), and parsed only when the stored value is read; every kref
// and vat text the parsers accept is canonical, so parsing and printing round-trip exactly.
//
// Consistency with the crank buffer: the in-memory set may be ahead of the stored value between
// Flush() calls (it is then "dirty"). The owner must Flush() before the buffer's crank writes
// are hashed or a savepoint is taken, and must Invalidate() after anything that changes the
// stored value behind the set's back (a rollback, a discarded crank or block, genesis). After
// Invalidate() the set re-reads the stored value on next use, so a rolled-back crank leaves no
// trace in it.
//
// Writes reach the buffer exactly when the stored value would have been rewritten by a
// write-through implementation: a Flush() writes only if some Add/removal since the previous
// flush changed the set, so the crank's net writes (and so the crank hash) are unchanged.
//
// Thread-safety: single-threaded (the kernel thread), like the CrankBuffer it wraps.

#ifndef SWINGSETD_KERNEL_GC_ACTIONS_H_
#define SWINGSETD_KERNEL_GC_ACTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "kernel/crank_buffer.h"
#include "kernel/ids.h"
#include "kernel/strings.h"

namespace swingset {

enum class GcActionType : uint8_t { kDropExport, kRetireExport, kRetireImport };

// The name used in stored actions ("dropExport", ...).
const char* GcActionTypeName(GcActionType t);

// Three-way comparison (<0, 0, >0) of the decimal strings of `a` and `b` in plain string order
// (1 < 10 < 19 < 2 < 9), without building them.
inline int CompareDecimalStrings(uint64_t a, uint64_t b) {
  if (a == b) return 0;
  const size_t da = DecimalDigits(a), db = DecimalDigits(b);
  if (da == db) return a < b ? -1 : 1;
  // Pad the shorter number with zeros to the longer's length. If it is then no greater than
  // the longer, its digits are a prefix of the longer's or below its leading digits, and it
  // sorts first either way; if greater, its digits are above. The padded value has at most 20
  // digits, so it cannot overflow 128 bits.
  __extension__ using U128 = unsigned __int128;
  if (da < db) return static_cast<U128>(a) * kPowersOf10[db - da] <= b ? -1 : 1;
  return static_cast<U128>(b) * kPowersOf10[da - db] <= a ? 1 : -1;
}

class GcActionSet {
 public:
  // `buf` must outlive this set.
  explicit GcActionSet(CrankBuffer* buf) : buf_(buf) {}
  GcActionSet(const GcActionSet&) = delete;
  GcActionSet& operator=(const GcActionSet&) = delete;

  bool empty() { return Actions().empty(); }
  size_t size() { return Actions().size(); }

  // Adds "<vat> <type> <k>"; a no-op when the action is already pending.
  void Add(VatId vat, GcActionType type, const Kref& k);

  // One (vat, type) group of pending actions, removed from the set by TakeFirstGroup.
  struct Group {
    VatId vat;
    GcActionType type;
    std::vector<Kref> krefs;  // in kref string order
  };
  // Removes the first group in selection order (§8.3) and returns it; false when empty.
  bool TakeFirstGroup(Group* group);

  // All pending actions in stored (plain string) order.
  std::vector<std::string> List();

  // Writes the set to the buffer if it changed since the last Flush() or Invalidate().
  void Flush();
  // Forgets the in-memory set; the next use re-reads the stored value. Discards unflushed
  // changes, so call it only when the buffer is where the set should be (after a rollback to
  // a savepoint taken after a Flush(), or after the buffer was reset).
  void Invalidate();

 private:
  // One pending action "v<vat> <type> k<kind><n>", 24 bytes.
  struct Action {
    uint64_t vat;     // VatId::n()
    uint64_t kref_n;  // Kref::n()
    GcActionType type;
    KrefKind kind;
  };
  static_assert(sizeof(Action) == 24);
  // Orders Actions as their strings sort (see the top of this file).
  struct ActionLess {
    bool operator()(const Action& x, const Action& y) const {
      if (x.vat != y.vat) return CompareDecimalStrings(x.vat, y.vat) < 0;
      if (x.type != y.type) return x.type < y.type;
      if (x.kind != y.kind) return KindRank(x.kind) < KindRank(y.kind);
      return CompareDecimalStrings(x.kref_n, y.kref_n) < 0;
    }
    // The kref prefixes in string order: "kd" < "ko" < "kp".
    static int KindRank(KrefKind k) {
      return k == KrefKind::kDevice ? 0 : k == KrefKind::kObject ? 1 : 2;
    }
  };
  using ActionTree = absl::btree_set<Action, ActionLess>;

  // Appends the action's stored string.
  static void AppendAction(const Action& a, std::string* out);

  // The set, read from the buffer on first use after construction or Invalidate().
  ActionTree& Actions();

  CrankBuffer* buf_;
  // Valid while loaded_. Changes since the last Flush() set dirty_.
  ActionTree actions_;
  bool loaded_ = false;
  bool dirty_ = false;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_GC_ACTIONS_H_
