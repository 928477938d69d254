// File: hasher.h
//
// A streaming SHA-256, injected into the kernel (whose core links Abseil only) by whoever wires
// it: consensus/sha256.h provides the OpenSSL implementation.

#ifndef SWINGSETD_KERNEL_HASHER_H_
#define SWINGSETD_KERNEL_HASHER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace swingset {

class Hasher {
 public:
  virtual ~Hasher() = default;
  virtual void Update(std::string_view data) = 0;
  // Returns the lowercase hex digest and resets the hasher to its initial state.
  virtual std::string FinishHex() = 0;
};

using HasherFactory = std::function<std::unique_ptr<Hasher>()>;

}  // namespace swingset

#endif  // SWINGSETD_KERNEL_HASHER_H_
