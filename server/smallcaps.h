// File: smallcaps.h
//
// The smallcaps capdata body encoding (KERNEL_SPEC §3.1: "#" + JSON) for the host side of the
// sidecar: plain JSON arguments from gRPC become capdata, and capdata from vats is rendered as
// JSON for operators and for the C++ scripted vats.
//
// Encoding of plain data (what EncodePlain produces):
//   null, booleans, finite numbers   as JSON
//   strings                          as JSON, prefixed with "!" when they begin with one of the
//                                    reserved characters '!' .. '-' ("!\"#$%&'()*+,-")
//   arrays                           element-wise
//   objects                          records: keys encoded like strings, sorted (byte order)
// Decoding (Decode) additionally understands "$i.<iface>" (remotable in slot i), "&i" (promise
// in slot i), "#undefined", "#NaN", "#Infinity", "#-Infinity", "#-0", "+N"/"-N" (bigint) and
// {"#error": msg, "name": n}. Decoded values use JSON-friendly forms:
//   remotable  {"@slot": <slot>, "iface": <iface>}      promise  {"@promise": <slot>}
//   undefined  {"@undefined": true}                      bigint   {"@bigint": "<digits>"}
//   error      {"@error": <message>, "name": <name>}     NaN etc. {"@number": "NaN"}
//
// Thread-safety: pure functions.

#ifndef SWINGSETD_SERVER_SMALLCAPS_H_
#define SWINGSETD_SERVER_SMALLCAPS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kernel/json.h"
#include "kernel/vat_host.h"

namespace swingset {
namespace smallcaps {

// Encodes plain data (any JSON value) as a smallcaps body with no slots.
std::string EncodePlain(const Json& plain);

// Parses `args_json` (a JSON array of plain data; "" means []) into capdata for a host send.
// Errors are kInvalidArgument naming what is wrong.
absl::StatusOr<CapData> ArgsFromJson(std::string_view args_json);

// Decodes a capdata body into the JSON-friendly form above. kInvalidArgument when the body is
// not smallcaps or names a slot index out of range.
absl::StatusOr<Json> Decode(const CapData& data);

// Helpers for reading decoded values.
bool IsSlotRef(const Json& v);          // {"@slot": ...}
std::string SlotOf(const Json& v);      // the slot string, or "" when v is not a ref

// Bodies the kernel and vats use.
std::string UndefinedBody();            // #"#undefined"
std::string ErrorBody(std::string_view message);  // #{"#error":message,"name":"Error"}

}  // namespace smallcaps
}  // namespace swingset

#endif  // SWINGSETD_SERVER_SMALLCAPS_H_
