// File: gc_actions.h
//
// GcActionSet: the kernel's pending GC actions (KERNEL_SPEC §8.2, §8.3), kept parsed and
// sorted in memory over the one consensus key that stores them.
//
// On disk the set is the key `gcActions`: a JSON array of "<vatID> <type> <kref>" strings in
// plain string order (as Agoric's kernel stores it; DO NOT CHANGE, it is consensus state).
// Rewriting that array at every GC step made GC quadratic in the number of pending actions, so
// the set lives here as an ordered set of the same strings and is serialized at most once per
// Flush(). Plain string order of the whole action is the selection order of §8.3: vat IDs
// compare as strings and are followed by a space, the type names happen to sort in priority
// order (dropExport < retireExport < retireImport), and krefs come last. So each (vat, type)
// group is one contiguous run, already in kref string order.
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
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "kernel/crank_buffer.h"
#include "kernel/ids.h"

namespace swingset {

enum class GcActionType { kDropExport, kRetireExport, kRetireImport };

// The name used in stored actions ("dropExport", ...).
const char* GcActionTypeName(GcActionType t);

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
  // The set, read from the buffer on first use after construction or Invalidate().
  absl::btree_set<std::string>& Actions();

  CrankBuffer* buf_;
  // Valid while loaded_. Changes since the last Flush() set dirty_.
  absl::btree_set<std::string> actions_;
  bool loaded_ = false;
  bool dirty_ = false;
};

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_GC_ACTIONS_H_
