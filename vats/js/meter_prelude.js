// meter_prelude.js: the meter of a metered vat realm (meter version 1). Trusted and not
// instrumented; the host evaluates it as a global script first thing in a new realm, before
// harden.js and SES, so everything after it (SES, our runtime, liveslots, the vat's modules) is
// instrumented code that finds the meter here (see instrument.js for what that code does).
//
// It declares the meter as global *lexical* bindings: code can reach them only by name, and the
// instrumenter refuses every name that starts with `$__`, so vat code cannot touch them.
//   $__m      {c, d, L}: c the computrons left in this delivery, d the call depth, L the depth
//             limit. The host sets c, d and L before each delivery and reads c after it.
//   $__r      called when c falls below 0; a host native that ends the delivery uncatchably.
//   $__deep   called when d exceeds L; likewise.
//   $__s      in an async function, gives the frame's depth back before it suspends.
// The two natives arrive as the global properties $__meterExhausted and $__meterTooDeep, which
// this script removes.
//
// Generators: a resumed generator frame is a real stack frame, but generator bodies carry no
// depth prologue (their try/finally would give the depth back only when the generator
// finishes, wherever that is). Instead next/throw/return of %GeneratorPrototype% and
// %AsyncGeneratorPrototype% count one level of depth and one computron around the resumption.
//
// The completion value is $__m, which the host keeps.
const $__m = { c: 0, d: 0, L: 0 };
const $__r = globalThis.$__meterExhausted;
const $__deep = globalThis.$__meterTooDeep;
const $__s = (d, x) => {
  $__m.d = d - 1;
  return x;
};
delete globalThis.$__meterExhausted;
delete globalThis.$__meterTooDeep;
(() => {
  const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf } = Object;
  const { apply } = Reflect;
  const meterResumption = (proto) => {
    const methods = [
      ['next', proto.next],
      ['throw', proto.throw],
      ['return', proto.return],
    ];
    for (const [name, original] of methods) {
      // Method syntax: no own `prototype`, length 1, like the originals.
      const wrapper = {
        [name](value) {
          const d = ++$__m.d;
          if (d > $__m.L) $__deep();
          if (--$__m.c < 0) $__r();
          try {
            return apply(original, this, [value]);
          } finally {
            $__m.d = d - 1;
          }
        },
      }[name];
      const desc = getOwnPropertyDescriptor(proto, name);
      defineProperty(proto, name, { ...desc, value: wrapper });
    }
  };
  meterResumption(getPrototypeOf(function* () {}).prototype);
  meterResumption(getPrototypeOf(async function* () {}).prototype);
})();
$__m;
