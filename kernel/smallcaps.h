// File: smallcaps.h
//
// The smallcaps capdata body encoding (docs/KERNEL_SPEC.md §3.1: "#" + JSON), the C++ side of what
// vats/js/marshal.js speaks: the kernel encodes vatParameters, host-send method names and its
// own error values with it and peeks at bodies only in the ways docs/KERNEL_SPEC.md §3.1 allows
// (single-slot bodies, method names); the sidecar turns plain JSON arguments from gRPC into capdata
// and renders capdata from vats as JSON for operators, the mailbox device and the scripted vats.
// Abseil only (part of kernel_base).
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
//   tagged     {"@tag": <tag>, "payload": <value>}
//
// Thread-safety: pure functions.

#ifndef SWINGSETD_KERNEL_SMALLCAPS_H_
#define SWINGSETD_KERNEL_SMALLCAPS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kernel/json.h"
#include "kernel/vat_host.h"

namespace swingset {
namespace smallcaps {

// Encodes plain data (any JSON value) as a smallcaps body with no slots.
std::string EncodePlain(const Json& plain);
// One string as smallcaps JSON text without the leading '#': quoted, and '!'-escaped when it
// starts with a reserved character (a method name inside a methargs body).
std::string EncodeString(std::string_view s);

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
// #{"#error":message,"name":"Error"}, the message '!'-escaped like any string.
std::string ErrorBody(std::string_view message);
// ErrorBody as capdata with no slots: the kernel's own rejection values.
CapData ErrorData(std::string_view message);

// Peeking at bodies (docs/KERNEL_SPEC.md §3.1).
// True if the body is exactly one slot reference to slot 0: #"$0", #"$0.<iface>" or #"&0".
bool IsSingleSlotBody(std::string_view body);
// The method name of a methargs body #["name", args], unescaped; "?" when not parseable.
std::string MethodNameOf(const CapData& methargs);

}  // namespace smallcaps
}  // namespace swingset

#endif  // SWINGSETD_KERNEL_SMALLCAPS_H_
