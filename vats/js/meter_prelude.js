// meter_prelude.js: the meter of a metered vat realm. Trusted and not
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
//   $__sp     charges a spread operand (`...x`) by its length before the engine iterates it.
//   $__v      the meter version (1, 2, ...) of this realm. What this file does for version 1
//             never changes; each later version's changes are gated on $__v.
// The two natives arrive as the global properties $__meterExhausted and $__meterTooDeep, and the
// version as $__meterVersion; this script removes them.
//
// Generators: a resumed generator frame is a real stack frame, but generator bodies carry no
// depth prologue (their try/finally would give the depth back only when the generator
// finishes, wherever that is). Instead next/throw/return of %GeneratorPrototype% and
// %AsyncGeneratorPrototype% count one level of depth and one computron around the resumption.
//
// The completion value is $__m, which the host keeps; $__m.j is the job runner the host calls
// each promise job through: one computron, and the job starts at depth 0.
'use strict';

const $__m = { c: 0, d: 0, L: 0 };
const $__r = globalThis.$__meterExhausted;
const $__deep = globalThis.$__meterTooDeep;
const $__v = globalThis.$__meterVersion;
const $__s = (d, x) => {
  $__m.d = d - 1;
  return x;
};
$__m.j = job => {
  if (--$__m.c < 0) $__r();
  $__m.d = 0;
  return job();
};
delete globalThis.$__meterExhausted;
delete globalThis.$__meterTooDeep;
delete globalThis.$__meterVersion;
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

// Operators whose work grows with their operands (meter version 2). The instrumenter keeps the
// case of two numbers inline at each site and sends everything else here: a helper converts
// object operands to primitives exactly as the operator would (calling vat code, which ticks),
// charges by the primitives' size, checks the caps, and then applies the operator natively.
//   BigInt  * / % **        one computron per product of 64-bit words (ceil(bits/64) each;
//                           for ** the result's words squared)
//           + - << >>       one per 16 words of the larger operand (or of the shifted result)
//           results above max_bigint_bits throw RangeError("vat limit: ...")
//   strings +               one per 64 units of the shorter operand (what an append adds: an
//                           append loop stays linear); results above max_string_length throw
//   templates               `${x}` charges converting a BigInt; the result is capped likewise
//   comparisons             one per 64 units of the shorter of two strings; a string against a
//                           BigInt is charged as parsing the string
// Conversions of BigInts to strings (decimal: quadratic) and back are charged in String(),
// BigInt(), BigInt.prototype.toString/toLocaleString and BigInt.asIntN/asUintN (below).
// The helpers are global lexicals like the rest of the meter; a realm of meter version 1 has
// them but its code never calls them, and gets none of the wrappers.
const [$__add, $__sub, $__mul, $__div, $__mod, $__pow, $__shl, $__shr, $__lt, $__le, $__gt,
       $__ge, $__eq, $__ne, $__seq, $__sne, $__ts, $__tc, $__pk] = (() => {
  const limits = globalThis.$__meterLimits;
  delete globalThis.$__meterLimits;
  const maxStringLength = limits ? +limits.maxStringLength : 0;
  const maxBigintBits = limits ? +limits.maxBigintBits : 0;
  const { apply, construct } = Reflect;
  const { defineProperty, getOwnPropertyDescriptor } = Object;
  const { floor, ceil } = Math;
  const RangeErrorCtor = RangeError;
  const TypeErrorCtor = TypeError;
  const NumberCtor = Number;
  const OriginalBigInt = BigInt;
  const OriginalString = String;
  const bigintToString = BigInt.prototype.toString;
  const bigintValueOf = BigInt.prototype.valueOf;
  const dateToPrimitive = Date.prototype[Symbol.toPrimitive];
  const toPrimitiveKey = Symbol.toPrimitive;
  const SMALL = 1n << 62n;
  const MAX = 2 ** 53;
  const charge = n => {
    const c = n > 0 ? (n < MAX ? floor(n) : MAX) : 0;
    $__m.c -= c;
    if ($__m.c < 0) $__r();
  };
  const fail = what => {
    throw RangeErrorCtor(`vat limit: ${what}`);
  };
  const isObject = x => (typeof x === 'object' && x !== null) || typeof x === 'function';

  // ToPrimitive(x, hint) for an object x (ECMA-262 7.1.1): its @@toPrimitive, else
  // OrdinaryToPrimitive, which Date.prototype[@@toPrimitive] performs natively for any object.
  const toPrimitive = (x, hint) => {
    const exotic = x[toPrimitiveKey];
    if (exotic !== undefined && exotic !== null) {
      if (typeof exotic !== 'function') throw TypeErrorCtor('Symbol.toPrimitive is not a function');
      const r = apply(exotic, x, [hint]);
      if (isObject(r)) throw TypeErrorCtor("can't convert object to primitive type");
      return r;
    }
    return apply(dateToPrimitive, x, [hint === 'string' ? 'string' : 'number']);
  };
  // ToNumeric for an object (a BigInt or a number): unary minus converts exactly once.
  const toNumeric = x => -(-x);

  // Bits of |x| (0 for 0n): exact, linear in x's size.
  const bitsOf = x => {
    if (x < SMALL && x > -SMALL) {
      let n = 0;
      let y = x < 0n ? -x : x;
      while (y > 0n) {
        y >>= 1n;
        n += 1;
      }
      return n;
    }
    const s = apply(bigintToString, x, [16]);
    const first = s[0] === '-' ? 1 : 0;
    const digits = s.length - first;
    const h = +`0x${s[first]}`;
    return (digits - 1) * 4 + (h >= 8 ? 4 : h >= 4 ? 3 : h >= 2 ? 2 : 1);
  };
  const wordsOf = bits => ceil(bits / 64);
  const capBits = (bits, what) => {
    if (bits > maxBigintBits) {
      fail(`${what} would make a BigInt of more than ${maxBigintBits} bits`);
    }
  };
  const checkBigint = (r, what) => {
    capBits(bitsOf(r), what);
    return r;
  };
  const capString = (s, what) => {
    if (s.length > maxStringLength) {
      fail(`${what} would make a string of ${s.length} units (cap ${maxStringLength})`);
    }
    return s;
  };
  // Converting a BigInt of w words to a string: linear for a power-of-two radix, quadratic
  // otherwise (SpiderMonkey's decimal conversion divides repeatedly).
  const chargeBigintToString = (x, radix) => {
    const w = wordsOf(bitsOf(x));
    // (A radix that is not a number is converted by the engine, once: charged as decimal.)
    const r = typeof radix === 'number' ? radix : 10;
    charge(r === 2 || r === 4 || r === 8 || r === 16 || r === 32 ? w : w * w);
  };
  // Parsing a string of n units as a BigInt (also what comparing one with a BigInt does):
  // quadratic in decimal, linear with a 0x, 0o or 0b prefix.
  const chargeStringToBigint = s => {
    const w = wordsOf(s.length * 4);
    const p = s[1];
    const binary = s[0] === '0' &&
      (p === 'x' || p === 'X' || p === 'o' || p === 'O' || p === 'b' || p === 'B');
    charge(binary ? w : w * w);
  };
  const chargeStrings = (a, b) => {
    const la = a.length;
    const lb = b.length;
    charge((la < lb ? la : lb) / 64);
  };

  // * / % ** << >> - on anything but two numbers.
  const numeric = (op, bigCost, check) => (a, b) => {
    if (isObject(a)) a = toNumeric(a);
    // A symbol on the left throws before the right operand is converted.
    if (typeof a === 'symbol') return op(a, b);
    if (isObject(b)) b = toNumeric(b);
    if (typeof a === 'bigint' && typeof b === 'bigint') {
      const ba = bitsOf(a);
      const bb = bitsOf(b);
      const upper = bigCost(ba, bb, a, b);
      const r = op(a, b);
      return check && upper > maxBigintBits ? checkBigint(r, check) : r;
    }
    return op(a, b);
  };
  // bigCost charges and returns an upper bound of the result's bits (or -1: no cap needed).
  const linearCost = (ba, bb) => {
    const m = ba > bb ? ba : bb;
    charge(wordsOf(m) / 16);
    return m + 1;
  };
  const productCost = (ba, bb) => {
    if (ba + bb - 1 > maxBigintBits && ba > 0 && bb > 0) capBits(ba + bb - 1, 'BigInt *');
    charge(wordsOf(ba) * wordsOf(bb));
    return ba + bb;
  };
  const quotientCost = (ba, bb) => {
    charge(wordsOf(ba) * wordsOf(bb));
    return -1;
  };
  const powerCost = (ba, bb, a, b) => {
    // |a| <= 1, b = 0 or b < 0 (a RangeError): the engine's work is constant.
    if (ba <= 1 || b <= 0n) return -1;
    if (b > OriginalBigInt(maxBigintBits)) capBits(MAX, 'BigInt **');
    const n = NumberCtor(b);
    capBits((ba - 1) * n + 1, 'BigInt **');
    // An upper bound of the result's bits: for a small base from |a|^16 (|a| < 2^(bits/16)),
    // which is tight for 3n ** n; else bits(a) per factor.
    const upper = ba <= 64 ? ceil((n * bitsOf(a ** 16n)) / 16) + 1 : ba * n;
    const w = wordsOf(upper);
    charge(w * w);
    return upper;
  };
  // a << s (s < 0 shifts right): the result has bits(a) + s bits.
  const shiftCost = (ba, s) => {
    if (ba === 0) return -1;
    const n = s > 0n ? (s > OriginalBigInt(maxBigintBits) ? MAX : NumberCtor(s)) : 0;
    capBits(ba + n, 'BigInt <<');
    charge(wordsOf(ba + n) / 16);
    return -1;
  };
  const $sub = numeric((a, b) => a - b, linearCost, 'BigInt -');
  const $mul = numeric((a, b) => a * b, productCost, 'BigInt *');
  const $div = numeric((a, b) => a / b, quotientCost, null);
  const $mod = numeric((a, b) => a % b, quotientCost, null);
  const $pow = numeric((a, b) => a ** b, powerCost, 'BigInt **');
  const $shl = numeric((a, b) => a << b, (ba, bb, a, b) => shiftCost(ba, b), null);
  const $shr = numeric((a, b) => a >> b, (ba, bb, a, b) => shiftCost(ba, -b), null);

  // a + b: ToPrimitive both (left first), then concatenation or addition.
  const $add = (a, b) => {
    if (isObject(a)) a = toPrimitive(a, 'default');
    if (isObject(b)) b = toPrimitive(b, 'default');
    const ta = typeof a;
    const tb = typeof b;
    if (ta === 'string' || tb === 'string') {
      if (ta === 'bigint') chargeBigintToString(a);
      if (tb === 'bigint') chargeBigintToString(b);
      const r = a + b;
      if (ta === 'string' && tb === 'string') {
        chargeStrings(a, b);
      } else {
        charge((ta === 'string' ? r.length - a.length : r.length - b.length) / 64);
      }
      return capString(r, 'string +');
    }
    if (ta === 'bigint' && tb === 'bigint') {
      const upper = linearCost(bitsOf(a), bitsOf(b));
      const r = a + b;
      return upper > maxBigintBits ? checkBigint(r, 'BigInt +') : r;
    }
    return a + b;
  };

  // Comparisons: relational ones convert both (hint number, left first); loose equality
  // converts an object only against a primitive that is not null or undefined.
  const chargeCompare = (a, b) => {
    const ta = typeof a;
    const tb = typeof b;
    if (ta === 'string') {
      if (tb === 'string') chargeStrings(a, b);
      else if (tb === 'bigint') chargeStringToBigint(a);
      else charge(a.length / 64);
    } else if (tb === 'string') {
      if (ta === 'bigint') chargeStringToBigint(b);
      else charge(b.length / 64);
    }
  };
  const relational = op => (a, b) => {
    if (isObject(a)) a = toPrimitive(a, 'number');
    if (isObject(b)) b = toPrimitive(b, 'number');
    chargeCompare(a, b);
    return op(a, b);
  };
  const loose = op => (a, b) => {
    const oa = isObject(a);
    const ob = isObject(b);
    if (oa && !ob && b !== null && b !== undefined) {
      if (typeof b === 'boolean') b = +b;
      a = toPrimitive(a, 'default');
    } else if (ob && !oa && a !== null && a !== undefined) {
      if (typeof a === 'boolean') a = +a;
      b = toPrimitive(b, 'default');
    }
    chargeCompare(a, b);
    return op(a, b);
  };
  const strict = op => (a, b) => {
    if (typeof a === 'string' && typeof b === 'string') chargeStrings(a, b);
    return op(a, b);
  };

  // Template substitutions: ToString(ToPrimitive(x, string)) is left to the engine once the
  // BigInt case is charged; the template's result is capped.
  const $ts = x => {
    if (isObject(x)) x = toPrimitive(x, 'string');
    if (typeof x === 'bigint') chargeBigintToString(x);
    return x;
  };
  const $tc = s => capString(s, 'template literal');
  // A computed key of a compound assignment (`o[k] += x`), converted once as the engine would.
  const $pk = k => {
    if (!isObject(k)) return k;
    const p = toPrimitive(k, 'string');
    return typeof p === 'symbol' ? p : `${p}`;
  };

  if ($__v >= 2) {
    // BigInt(x): parse a string by its length; the result is capped.
    const thisBigint = self => (typeof self === 'bigint' ? self : apply(bigintValueOf, self, []));
    const bigintDesc = getOwnPropertyDescriptor(globalThis, 'BigInt');
    const BigIntWrapper = {
      BigInt(value) {
        let v = value;
        if (isObject(v)) v = toPrimitive(v, 'number');
        if (typeof v === 'string') chargeStringToBigint(v);
        const r = OriginalBigInt(v);
        return typeof v === 'string' && v.length > 16 ? checkBigint(r, 'BigInt()') : r;
      },
    }.BigInt;
    defineProperty(BigIntWrapper, 'length', { value: 1 });
    defineProperty(BigIntWrapper, 'prototype', { value: OriginalBigInt.prototype });
    for (const name of ['asIntN', 'asUintN']) {
      const original = OriginalBigInt[name];
      const wrapper = {
        [name](bits, bigint) {
          // ToIndex(bits), then ToBigInt(bigint), each once, as the original does.
          let n = +bits;
          n = n !== n ? 0 : n < 0 ? -floor(-n) : floor(n);
          if (!(n >= 0 && n < MAX)) return apply(original, OriginalBigInt, [n, bigint]);
          let x = bigint;
          if (isObject(x)) x = toPrimitive(x, 'number');
          if (typeof x === 'string') chargeStringToBigint(x);
          if (typeof x === 'string' || typeof x === 'boolean') x = OriginalBigInt(x);
          if (typeof x !== 'bigint') return apply(original, OriginalBigInt, [n, x]);
          const bx = bitsOf(x);
          // asUintN of a negative value has about n bits; otherwise at most bits(x) + 1.
          const negative = name === 'asUintN' && x < 0n;
          if (negative && n - bx > maxBigintBits) capBits(n - bx, `BigInt.${name}`);
          const upper = negative ? n : bx + 1;
          charge(wordsOf(upper < n ? upper : n) / 16);
          const r = apply(original, OriginalBigInt, [n, x]);
          return upper > maxBigintBits ? checkBigint(r, `BigInt.${name}`) : r;
        },
      }[name];
      defineProperty(BigIntWrapper, name, {
        ...getOwnPropertyDescriptor(OriginalBigInt, name),
        value: wrapper,
      });
    }
    defineProperty(OriginalBigInt.prototype, 'constructor', {
      ...getOwnPropertyDescriptor(OriginalBigInt.prototype, 'constructor'),
      value: BigIntWrapper,
    });
    defineProperty(globalThis, 'BigInt', { ...bigintDesc, value: BigIntWrapper });

    // big.toString(radix), big.toLocaleString(): by size and radix.
    for (const name of ['toString', 'toLocaleString']) {
      const desc = getOwnPropertyDescriptor(OriginalBigInt.prototype, name);
      const original = desc.value;
      const wrapper = {
        [name](...args) {
          let x;
          try {
            x = thisBigint(this);
          } catch (e) {
            return apply(original, this, args);
          }
          chargeBigintToString(x, name === 'toString' ? args[0] : undefined);
          return apply(original, this, args);
        },
      }[name];
      defineProperty(wrapper, 'length', { value: original.length });
      defineProperty(OriginalBigInt.prototype, name, { ...desc, value: wrapper });
    }

    // String(x) and new String(x): converting a BigInt.
    const stringDesc = getOwnPropertyDescriptor(globalThis, 'String');
    const StringWrapper = function String(value) {
      if (arguments.length > 0) {
        let v = value;
        if (isObject(v)) {
          v = toPrimitive(v, 'string');
          // String(x) describes a symbol only when it is the argument itself.
          if (typeof v === 'symbol') v = `${v}`;
        }
        if (typeof v === 'bigint') chargeBigintToString(v);
        if (new.target === undefined) return OriginalString(v);
        return construct(OriginalString, [v],
                         new.target === StringWrapper ? OriginalString : new.target);
      }
      if (new.target === undefined) return OriginalString();
      return construct(OriginalString, [],
                       new.target === StringWrapper ? OriginalString : new.target);
    };
    for (const key of Reflect.ownKeys(OriginalString)) {
      if (key !== 'length' && key !== 'name') {
        defineProperty(StringWrapper, key, getOwnPropertyDescriptor(OriginalString, key));
      }
    }
    defineProperty(OriginalString.prototype, 'constructor', {
      ...getOwnPropertyDescriptor(OriginalString.prototype, 'constructor'),
      value: StringWrapper,
    });
    defineProperty(globalThis, 'String', { ...stringDesc, value: StringWrapper });
  }

  return [$add, $sub, $mul, $div, $mod, $pow, $shl, $shr,
          relational((a, b) => a < b), relational((a, b) => a <= b),
          relational((a, b) => a > b), relational((a, b) => a >= b),
          loose((a, b) => a == b), loose((a, b) => a != b),
          strict((a, b) => a === b), strict((a, b) => a !== b), $ts, $tc, $pk];
})();

// Builtins whose work grows with their input run natively, without a tick. Each is wrapped here
// so that it charges computrons in proportion to its input *before* it runs: a delivery that
// cannot pay stops before the work starts (`Array(1e9).fill()` costs 1e9 and stops at once).
// A few whose work is only known from their result (Object.keys and friends) charge after it;
// their work is bounded by objects the vat already paid to build. The block's value is $__sp.
// (Every top-level name here is a global lexical binding that later code can name: only `$__`
// names, which the instrumenter refuses in vat code, may be declared at the top level.)
const $__sp = (() => {
  const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, freeze } = Object;
  const { apply, construct, ownKeys } = Reflect;
  const { isArray } = Array;
  const { floor, log2 } = Math;
  const MAX = 2 ** 53;
  // Nesting depth of proxies and bound functions (below); made before WeakMap is wrapped, since
  // nothing in this prelude may be charged (the meter is armed only after it).
  const nesting = new WeakMap();
  // A charge of n computrons (n rounded down; NaN and negatives are 0).
  const charge = n => {
    const c = n > 0 ? (n < MAX ? floor(n) : MAX) : 0;
    $__m.c -= c;
    if ($__m.c < 0) $__r();
  };
  // The length an array method would use, without throwing where the method would not.
  const lengthOf = o => {
    if (o === null || o === undefined) return 0;
    const n = +o.length;
    return n > 0 ? n : 0;
  };
  const sizeOf = o =>
    o === null || o === undefined ? 0 : isArray(o) || typeof o === 'string' ? o.length : 0;
  // A string's length, also for a String object (`this` of a String method called on one);
  // anything else converts to a short string or is charged where it is built.
  const stringValueOf = String.prototype.valueOf;
  const stringLength = s => {
    if (typeof s === 'string') return s.length;
    if (typeof s !== 'object' || s === null) return 0;
    try {
      return apply(stringValueOf, s, []).length;
    } catch (e) {
      return 0;
    }
  };

  // Replaces obj[name] (a method) by one that first charges cost(this, args). The call also
  // counts one level of depth: a builtin that calls back into vat code (join calling toString,
  // a getter read by Object.assign) nests real stack frames.
  const charged = (obj, name, cost) => {
    const desc = getOwnPropertyDescriptor(obj, name);
    if (!desc || typeof desc.value !== 'function') return;
    const original = desc.value;
    const wrapper = {
      [name](...args) {
        charge(cost(this, args));
        const d = ++$__m.d;
        if (d > $__m.L) $__deep();
        try {
          return apply(original, this, args);
        } finally {
          $__m.d = d - 1;
        }
      },
    }[name];
    defineProperty(wrapper, 'length', { value: original.length });
    defineProperty(obj, name, { ...desc, value: wrapper });
  };
  // The same for a function whose cost is known only from its result.
  const chargedAfter = (obj, name, cost) => {
    const desc = getOwnPropertyDescriptor(obj, name);
    if (!desc || typeof desc.value !== 'function') return;
    const original = desc.value;
    const wrapper = {
      [name](...args) {
        const result = apply(original, this, args);
        charge(cost(result));
        return result;
      },
    }[name];
    defineProperty(wrapper, 'length', { value: original.length });
    defineProperty(obj, name, { ...desc, value: wrapper });
  };

  // Arrays and typed arrays: one computron per element the method may visit.
  const perElement = self => 1 + lengthOf(self);
  const arrayMethods = [
    'copyWithin', 'every', 'fill', 'filter', 'find', 'findIndex', 'findLast', 'findLastIndex',
    'flat', 'flatMap', 'forEach', 'includes', 'indexOf', 'join', 'lastIndexOf', 'map', 'reduce',
    'reduceRight', 'reverse', 'some', 'splice', 'toLocaleString', 'toString', 'unshift',
    'toReversed', 'toSorted', 'toSpliced', 'with',
  ];
  const sortCost = self => {
    const n = lengthOf(self);
    return 1 + (n > 1 ? n * log2(n) : n);
  };
  const TypedArrayPrototype = getPrototypeOf(Int8Array.prototype);
  for (const proto of [Array.prototype, TypedArrayPrototype]) {
    for (const name of arrayMethods) charged(proto, name, perElement);
    charged(proto, 'sort', sortCost);
    chargedAfter(proto, 'slice', r => 1 + lengthOf(r));
    charged(proto, 'set', (self, [src]) => 1 + lengthOf(src));
    charged(proto, 'subarray', () => 1);
  }
  charged(Array.prototype, 'concat', (self, args) => {
    let n = 1 + lengthOf(self);
    for (let i = 0; i < args.length; i += 1) n += 1 + sizeOf(args[i]);
    return n;
  });
  charged(Array, 'from', (self, [src]) => 1 + lengthOf(src));
  charged(Array, 'of', (self, args) => 1 + args.length);
  for (const ctor of [Map, Set, WeakMap, WeakSet]) {
    // Constructors: wrapped as functions that construct the original (same prototype object).
    const desc = getOwnPropertyDescriptor(globalThis, ctor.name);
    const wrapper = function (iterable) {
      if (new.target === undefined) return apply(ctor, this, arguments);
      charge(1 + sizeOf(iterable));
      return construct(ctor, arguments, new.target === wrapper ? ctor : new.target);
    };
    defineProperty(wrapper, 'name', { value: ctor.name });
    defineProperty(wrapper, 'length', { value: 0 });
    defineProperty(wrapper, 'prototype', { value: ctor.prototype });
    defineProperty(ctor.prototype, 'constructor', {
      ...getOwnPropertyDescriptor(ctor.prototype, 'constructor'),
      value: wrapper,
    });
    for (const key of Reflect.ownKeys(ctor)) {
      if (key !== 'prototype' && key !== 'length' && key !== 'name') {
        defineProperty(wrapper, key, getOwnPropertyDescriptor(ctor, key));
      }
    }
    defineProperty(globalThis, ctor.name, { ...desc, value: wrapper });
  }
  for (const name of ['all', 'allSettled', 'any', 'race']) {
    charged(Promise, name, (self, [src]) => 1 + sizeOf(src));
  }

  // Strings: one computron per 16 characters read or written.
  const perChars = self => 1 + stringLength(self) / 16;
  const stringMethods = [
    'endsWith', 'includes', 'indexOf', 'lastIndexOf', 'localeCompare', 'match', 'matchAll',
    'normalize', 'replace', 'replaceAll', 'search', 'split', 'startsWith', 'toLocaleLowerCase',
    'toLocaleUpperCase', 'toLowerCase', 'toUpperCase', 'trim', 'trimEnd', 'trimStart',
    'isWellFormed', 'toWellFormed',
  ];
  for (const name of stringMethods) charged(String.prototype, name, perChars);
  // Copies: by what they return (a slice of a long string in a loop is not a scan of it).
  for (const name of ['slice', 'substr', 'substring']) {
    chargedAfter(String.prototype, name, r => 1 + stringLength(r) / 16);
  }
  charged(String.prototype, 'concat', (self, args) => {
    let n = perChars(self);
    for (let i = 0; i < args.length; i += 1) n += 1 + stringLength(args[i]) / 16;
    return n;
  });
  // The result's size for the builders (their result is all new characters).
  charged(String.prototype, 'repeat', (self, [count]) =>
    1 + (stringLength(self) * (+count > 0 ? +count : 0)) / 16);
  const padCost = (self, [target]) => 1 + (+target > 0 ? +target : 0) / 16;
  charged(String.prototype, 'padStart', padCost);
  charged(String.prototype, 'padEnd', padCost);
  for (const name of ['fromCharCode', 'fromCodePoint']) {
    charged(String, name, (self, args) => 1 + args.length);
  }
  charged(String, 'raw', (self, args) => 1 + args.length);

  // JSON: parse by text length; stringify one computron per value visited (its output can be
  // exponential in a DAG's size, so it cannot be charged by input size).
  charged(JSON, 'parse', (self, [text]) => 1 + stringLength(text) / 4);
  const jsonStringify = JSON.stringify;
  defineProperty(JSON, 'stringify', {
    ...getOwnPropertyDescriptor(JSON, 'stringify'),
    value: {
      stringify(value, replacer, space) {
        charge(1);
        let counted;
        if (typeof replacer === 'function') {
          counted = function (key, v) {
            charge(1);
            return apply(replacer, this, [key, v]);
          };
        } else if (isArray(replacer)) {
          // An allowlist: its semantics cannot be expressed by a function replacer, so charge
          // by the list and by the result.
          charge(lengthOf(replacer));
          const out = apply(jsonStringify, JSON, [value, replacer, space]);
          charge(stringLength(out) / 16);
          return out;
        } else {
          counted = (key, v) => {
            charge(1);
            return v;
          };
        }
        return apply(jsonStringify, JSON, [value, counted, space]);
      },
    }.stringify,
  });

  // Spreading arguments: apply and construct copy their argument list.
  const argsCost = (self, args) => 1 + lengthOf(args[1]);
  charged(Function.prototype, 'apply', argsCost);
  charged(Reflect, 'apply', (self, [f, t, list]) => 1 + lengthOf(list));
  charged(Reflect, 'construct', (self, [f, list]) => 1 + lengthOf(list));

  // Proxies forward to their target (and look traps up on their handler) natively, and bound
  // functions call their target natively: a chain of them recurses with no JS frame in between.
  // Their nesting is capped, deterministically.
  const MAX_NESTING = 1000;
  const nestingOf = o =>
    (typeof o === 'object' || typeof o === 'function') && o !== null ? nesting.get(o) || 0 : 0;
  const nested = (made, ...parts) => {
    let n = 0;
    for (let i = 0; i < parts.length; i += 1) {
      const p = nestingOf(parts[i]);
      if (p > n) n = p;
    }
    if (n + 1 > MAX_NESTING) throw RangeError(`nested more than ${MAX_NESTING} deep`);
    return n + 1;
  };
  {
    const OriginalProxy = Proxy;
    const desc = getOwnPropertyDescriptor(globalThis, 'Proxy');
    const revocable = OriginalProxy.revocable;
    const makeProxy = function (target, handler) {
      if (new.target === undefined) return apply(OriginalProxy, this, [target, handler]);
      const n = nested(null, target, handler);
      const p = construct(OriginalProxy, [target, handler]);
      nesting.set(p, n);
      return p;
    };
    // Bound: constructible, and like the original without a `prototype`.
    const ProxyWrapper = apply(Function.prototype.bind, makeProxy, [undefined]);
    defineProperty(ProxyWrapper, 'name', { value: 'Proxy' });
    defineProperty(ProxyWrapper, 'length', { value: 2 });
    defineProperty(ProxyWrapper, 'revocable', {
      ...getOwnPropertyDescriptor(OriginalProxy, 'revocable'),
      value: {
        revocable(target, handler) {
          const n = nested(null, target, handler);
          const r = apply(revocable, OriginalProxy, [target, handler]);
          nesting.set(r.proxy, n);
          return r;
        },
      }.revocable,
    });
    defineProperty(globalThis, 'Proxy', { ...desc, value: ProxyWrapper });
  }
  {
    const bind = Function.prototype.bind;
    defineProperty(Function.prototype, 'bind', {
      ...getOwnPropertyDescriptor(Function.prototype, 'bind'),
      value: {
        bind(...args) {
          charge(1 + args.length);
          const n = nested(null, this);
          const b = apply(bind, this, args);
          nesting.set(b, n);
          return b;
        },
      }.bind,
    });
  }

  // Own-key listings: after the fact, by what they return. One-argument functions on hot paths
  // (harden, pass-style checks): called directly, without a rest array.
  const listing = (obj, name, size) => {
    const desc = getOwnPropertyDescriptor(obj, name);
    const original = desc.value;
    const wrapper = {
      [name](o) {
        const r = original(o);
        charge(1 + size(r));
        return r;
      },
    }[name];
    defineProperty(obj, name, { ...desc, value: wrapper });
  };
  for (const name of ['keys', 'values', 'entries', 'getOwnPropertyNames',
                      'getOwnPropertySymbols']) {
    listing(Object, name, r => r.length);
  }
  listing(Reflect, 'ownKeys', r => r.length);
  // Descriptors: one per own key (the result is a plain object).
  listing(Object, 'getOwnPropertyDescriptors', r => ownKeys(r).length);
  charged(Object, 'assign', (self, args) => 1 + args.length);
  charged(Object, 'fromEntries', (self, [src]) => 1 + sizeOf(src));
  // Spread (`[...x]`, `f(...x)`, `{...x}`): the instrumenter routes each spread operand through
  // $__sp, which charges its length or size before the engine iterates it natively.
  return x => {
    if (x !== null && x !== undefined) {
      const n = typeof x === 'string' ? x.length : isArray(x) ? x.length : 0;
      charge(1 + n);
    }
    return x;
  };
})();
$__m;
