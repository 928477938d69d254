// File: sha256.h
//
// SHA-256 through OpenSSL (its SHA256_* functions), as a kernel Hasher (kernel/hasher.h) and
// as a one-shot helper.

#ifndef SWINGSETD_CONSENSUS_SHA256_H_
#define SWINGSETD_CONSENSUS_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

#include "kernel/hasher.h"

namespace swingset {

std::unique_ptr<Hasher> NewSha256Hasher();
HasherFactory Sha256HasherFactory();
// Lowercase hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);
std::string HexEncode(std::string_view bytes);

}  // namespace swingset

#endif  // SWINGSETD_CONSENSUS_SHA256_H_
