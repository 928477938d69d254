// File: mem_kv_store.h
//
// An in-memory KvStore for kernel unit tests and the in-memory benchmark. Snapshots are copies
// (cheap enough at test sizes).

#ifndef SWINGSETD_KERNEL_STORAGE_MEM_KV_STORE_H_
#define SWINGSETD_KERNEL_STORAGE_MEM_KV_STORE_H_

#include <memory>

#include "kernel/kv_store.h"

namespace swingset {

std::unique_ptr<KvStore> NewMemKvStore();

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_STORAGE_MEM_KV_STORE_H_
