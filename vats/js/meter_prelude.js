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
//   $__re     (version 2) RegExp exec on RE2, charging $__m before it matches (below).
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
// Version 2: RegExp.prototype.exec on RE2 (js_regex.h), a native that charges the meter itself.
const $__re = $__v >= 2 ? globalThis.$__regexExec : undefined;
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
if ($__v >= 2) delete globalThis.$__regexExec;
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
       $__ge, $__eq, $__ne, $__seq, $__sne, $__ts, $__tc, $__pk, $__ks] = (() => {
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
  const OriginalErrorPrototype = Error.prototype;
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
  // Version 3: a long string becoming a key is hashed and copied into the atom table, and a
  // BigInt is converted to decimal: both charged (a string of up to 256 units is not).
  const chargeKey = p => {
    if (typeof p === 'bigint') chargeBigintToString(p);
    else if (typeof p === 'string' && p.length > 256) charge(p.length / 16);
  };
  const $pk = k => {
    if (!isObject(k)) {
      if ($__v >= 3) chargeKey(k);
      return k;
    }
    const p = toPrimitive(k, 'string');
    if ($__v >= 3) chargeKey(p);
    return typeof p === 'symbol' ? p : `${p}`;
  };
  // Version 3: a value about to be converted to a string (or a property key) by a builtin: a
  // BigInt's conversion is charged; an object is converted to a primitive here, once, as the
  // builtin would (ToPrimitive with hint string), and the primitive is what the builtin gets.
  const $ks = x => {
    if (!isObject(x)) {
      chargeKey(x);
      return x;
    }
    const p = toPrimitive(x, 'string');
    chargeKey(p);
    return p;
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

  // Version 3: constructors that convert an argument to a string natively: the Error
  // constructors (the message) and Symbol (the description). Each wrapper converts the value
  // through $ks (a BigInt's conversion charged; an object converted once, as the constructor
  // would) and calls the original; the prototype's `constructor` names the wrapper.
  if ($__v >= 3) {
    const wrapConstructor = (name, messageAt) => {
      const desc = getOwnPropertyDescriptor(globalThis, name);
      if (!desc || typeof desc.value !== 'function') return;
      const Original = desc.value;
      const Wrapper = {
        [name]: function () {
          const args = [];
          for (let i = 0; i < arguments.length; i += 1) args[i] = arguments[i];
          if (args.length > messageAt && args[messageAt] !== undefined) {
            args[messageAt] = $ks(args[messageAt]);
          }
          if (new.target === undefined) return apply(Original, this, args);
          return construct(Original, args, new.target === Wrapper ? Original : new.target);
        },
      }[name];
      for (const key of Reflect.ownKeys(Original)) {
        if (key !== 'name' && key !== 'length') {
          defineProperty(Wrapper, key, getOwnPropertyDescriptor(Original, key));
        }
      }
      defineProperty(Wrapper, 'length', getOwnPropertyDescriptor(Original, 'length'));
      if (Original.prototype) {
        defineProperty(Original.prototype, 'constructor', {
          ...getOwnPropertyDescriptor(Original.prototype, 'constructor'),
          value: Wrapper,
        });
      }
      defineProperty(globalThis, name, { ...desc, value: Wrapper });
    };
    for (const name of ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError',
                        'TypeError', 'URIError']) {
      wrapConstructor(name, 0);
    }
    wrapConstructor('AggregateError', 1);
    wrapConstructor('Symbol', 0);
    // Error.prototype.toString by the language spec's steps, its conversions through $ks.
    const errorToString = {
      toString() {
        if (!isObject(this)) throw TypeErrorCtor('Error.prototype.toString called on a non-object');
        const n = this.name;
        const name = n === undefined ? 'Error' : `${$ks(n)}`;
        const m = this.message;
        const message = m === undefined ? '' : `${$ks(m)}`;
        if (name === '') return message;
        if (message === '') return name;
        return `${name}: ${message}`;
      },
    }.toString;
    defineProperty(OriginalErrorPrototype, 'toString', {
      ...getOwnPropertyDescriptor(OriginalErrorPrototype, 'toString'),
      value: errorToString,
    });
  }

  return [$add, $sub, $mul, $div, $mod, $pow, $shl, $shr,
          relational((a, b) => a < b), relational((a, b) => a <= b),
          relational((a, b) => a > b), relational((a, b) => a >= b),
          loose((a, b) => a == b), loose((a, b) => a != b),
          strict((a, b) => a === b), strict((a, b) => a !== b), $ts, $tc, $pk, $ks];
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
  const NativeProxy = Proxy;
  const MAX = 2 ** 53;
  // Nesting depth of proxies and bound functions (below); made before WeakMap is wrapped, since
  // nothing in this prelude may be charged (the meter is armed only after it).
  const nesting = new WeakMap();
  // wrapper -> the builtin it wraps (version 2 replaces some wrappers; see the end).
  const originalOf = new WeakMap();
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
    originalOf.set(wrapper, originalOf.get(original) || original);
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
    originalOf.set(wrapper, originalOf.get(original) || original);
  };

  // Version 3: builtins that convert an argument (or `this`) to a string or a property key. A
  // BigInt converts in decimal, quadratic in its size, natively: `o.hasOwnProperty(big)`,
  // `parseInt(big)` or `'x'.indexOf(big)` would cost one computron. Each wrapper passes the
  // values the builtin converts through $__ks (the conversion charged; an object converted once,
  // here, in the builtin's order) and calls the builtin with the results. Values the builtin
  // may use as something else than a string are left alone when they are objects (a RegExp
  // given to split or replace, a function replacer), and only a BigInt is charged.
  if ($__v >= 3) {
    const isObject = x => (typeof x === 'object' && x !== null) || typeof x === 'function';
    // positions: the argument indices converted; convertObjects: whether an object there is
    // converted (else only a BigInt is charged); self: `this` too; guard(args): false when the
    // builtin throws before converting anything (a non-object target), then it is called as is.
    const converting = (obj, name, positions, { convertObjects = true, self = false,
                                                guard = null } = {}) => {
      const desc = getOwnPropertyDescriptor(obj, name);
      if (!desc || typeof desc.value !== 'function') return;
      const inner = desc.value;
      const all = positions === 'all';
      const at0 = !all && positions.includes(0);
      const at1 = !all && positions.includes(1);
      const needs = a => typeof a === 'bigint' || (typeof a === 'string' && a.length > 256) ||
        (convertObjects && isObject(a));
      // Up to three arguments are passed as they came (a call without arguments[] on the hot
      // paths: hasOwnProperty, Reflect.get, the String methods); more through a copy.
      const wrapper = {
        [name](a0, a1, a2) {
          let that = this;
          const n = arguments.length;
          if (guard === null || guard(a0)) {
            if (self && typeof that !== 'string') that = $__ks(that);
            if (all) {
              const args = [];
              for (let i = 0; i < n; i += 1) {
                const a = arguments[i];
                args[i] = needs(a) ? $__ks(a) : a;
              }
              return apply(inner, that, args);
            }
            if (at0 && n > 0 && needs(a0)) a0 = $__ks(a0);
            if (at1 && n > 1 && needs(a1)) a1 = $__ks(a1);
          }
          switch (n) {
            case 0: return inner.call(that);
            case 1: return inner.call(that, a0);
            case 2: return inner.call(that, a0, a1);
            case 3: return inner.call(that, a0, a1, a2);
            default: {
              const args = [a0, a1, a2];
              for (let i = 3; i < n; i += 1) args[i] = arguments[i];
              return apply(inner, that, args);
            }
          }
        },
      }[name];
      defineProperty(wrapper, 'length', { value: inner.length });
      defineProperty(obj, name, { ...desc, value: wrapper });
      originalOf.set(wrapper, originalOf.get(inner) || inner);
    };
    const targetIsObject = target => isObject(target);
    const targetCoercible = target => target !== null && target !== undefined;
    // Property keys.
    for (const name of ['hasOwnProperty', 'propertyIsEnumerable', '__defineGetter__',
                        '__defineSetter__', '__lookupGetter__', '__lookupSetter__']) {
      converting(Object.prototype, name, [0]);
    }
    for (const name of ['defineProperty', 'getOwnPropertyDescriptor', 'hasOwn']) {
      converting(Object, name, [1], { guard: name === 'defineProperty' ? targetIsObject : targetCoercible });
    }
    for (const name of ['get', 'set', 'has', 'defineProperty', 'deleteProperty',
                        'getOwnPropertyDescriptor']) {
      converting(Reflect, name, [1], { guard: targetIsObject });
    }
    // Strings: `this` (every String.prototype method converts it first) and the arguments.
    const stringProto = String.prototype;
    // (Plain records, not Maps: the wrapped Map constructor charges, and nothing here may.)
    const plainArgs = {
      __proto__: null, concat: 'all', indexOf: [0], lastIndexOf: [0], localeCompare: [0],
      normalize: [0], padEnd: [1], padStart: [1],
    };
    const dispatchedArgs = {
      __proto__: null, startsWith: [0], endsWith: [0], includes: [0], split: [0],
      replace: [0, 1], replaceAll: [0, 1], match: [0], matchAll: [0], search: [0],
    };
    for (const name of ownKeys(stringProto)) {
      if (typeof name !== 'string' || name === 'constructor' || name === 'toString' ||
          name === 'valueOf') {
        continue;
      }
      if (plainArgs[name] !== undefined) {
        converting(stringProto, name, plainArgs[name], { self: true });
      } else if (dispatchedArgs[name] !== undefined) {
        converting(stringProto, name, dispatchedArgs[name], { self: true, convertObjects: false });
      } else {
        converting(stringProto, name, [], { self: true });
      }
    }
    for (const name of ['parseInt', 'parseFloat', 'encodeURI', 'encodeURIComponent', 'decodeURI',
                        'decodeURIComponent', 'escape', 'unescape']) {
      converting(globalThis, name, [0]);
    }
    converting(Symbol, 'for', [0]);
    converting(JSON, 'parse', [0]);
    converting(Date, 'parse', [0]);
    converting(String, 'raw', 'all', { convertObjects: false });
  }

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
      // Version 2: `new Map()` constructs the original directly (the same charge).
      if ($__v >= 2 && iterable === undefined && new.target === wrapper) {
        charge(1);
        return new ctor();
      }
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
  // Version 2: stringify recurses natively, one C++ frame per level of nesting, and stops at the
  // engine's stack limit, a node-dependent depth (with vat code, toJSON or a replacer, having
  // run before it): the replacer follows the nesting and ends the delivery at the depth limit.
  // SpiderMonkey calls the replacer with the object being serialized as `this`, so the chain
  // of holders from the root to it is a stack: pop to `this`, push the value when it is an
  // object (whose members are next). Nested stringify calls (from a toJSON) stack above the
  // outer call's holders, from `jsonBase`. One replacer for every call, its charge inline (the
  // same charge as version 1's).
  const jsonHolders = [];
  let jsonBase = 0;
  let jsonTop = 0;
  const trackNesting = (holder, v) => {
    // Only an object deepens the nesting; the holders above `holder` are popped lazily, at the
    // next object (their members are done by then).
    if (typeof v !== 'object' || v === null) return;
    let n = jsonTop;
    while (n > jsonBase && jsonHolders[n - 1] !== holder) n -= 1;
    if (n === jsonBase) {
      jsonHolders[n] = holder;
      n += 1;
    }
    jsonHolders[n] = v;
    n += 1;
    if (n - jsonBase + $__m.d > $__m.L) $__deep();
    jsonTop = n;
  };
  const countValue = function (key, v) {
    if (--$__m.c < 0) $__r();
    trackNesting(this, v);
    return v;
  };
  const stringifyTracked = (value, replacer, space) => {
    const savedBase = jsonBase;
    jsonBase = jsonTop;
    try {
      return apply(jsonStringify, JSON, [value, replacer, space]);
    } finally {
      jsonHolders.length = jsonBase;  // no references kept past the call
      jsonTop = jsonBase;
      jsonBase = savedBase;
    }
  };
  // Version 3: also by the result's length, after (the work of escaping long strings, one
  // computron per value before; the result is bounded by max_string_length).
  const charged3 = out => {
    if ($__v >= 3) charge(stringLength(out) / 16);
    return out;
  };
  // Version 3: an allowlist (`JSON.stringify(v, ['b', 'a'])`) through the tracked replacer, so
  // that its nesting meets the depth limit instead of the engine's stack. The replacer shows
  // the engine each (non-array, non-boxed) object as a view whose own keys are the allowlist, in
  // its order, each read from the object once when the engine serializes it, as the allowlist
  // would; one view per object, so the engine's cycle check sees a cycle as before.
  const hasSlot = (valueOf, v) => {
    try {
      apply(valueOf, v, []);
      return true;
    } catch (e) {
      return false;
    }
  };
  const boxValueOfs = [String.prototype.valueOf, Number.prototype.valueOf,
                       Boolean.prototype.valueOf, BigInt.prototype.valueOf];
  const isBoxed = v => {
    for (let i = 0; i < boxValueOfs.length; i += 1) if (hasSlot(boxValueOfs[i], v)) return true;
    return false;
  };
  const enumerableSlot = () => ({ value: undefined, writable: true, enumerable: true,
                                  configurable: true });
  const stringifyAllowlist = (value, allowlist, space) => {
    // The property list, as the language spec builds it: strings, numbers and String or Number
    // objects (converted), each once, in order.
    const n = lengthOf(allowlist);
    charge(n);
    const list = [];
    const seen = new Set();
    for (let i = 0; i < n; i += 1) {
      const v = allowlist[i];
      let item;
      if (typeof v === 'string') item = v;
      else if (typeof v === 'number') item = `${v}`;
      else if (typeof v === 'object' && v !== null &&
               (hasSlot(String.prototype.valueOf, v) || hasSlot(Number.prototype.valueOf, v))) {
        item = `${v}`;
      }
      if (item !== undefined && !seen.has(item)) {
        seen.add(item);
        list[list.length] = item;
      }
    }
    const views = new WeakMap();
    const viewOf = o => {
      let view = views.get(o);
      if (view === undefined) {
        view = new NativeProxy({}, {
          ownKeys: () => {
            charge(list.length);
            const keys = [];
            for (let i = 0; i < list.length; i += 1) keys[i] = list[i];
            return keys;
          },
          getOwnPropertyDescriptor: enumerableSlot,
          get: (target, key) => o[key],
        });
        views.set(o, view);
      }
      return view;
    };
    return stringifyTracked(value, function (key, v) {
      if (--$__m.c < 0) $__r();
      let r = v;
      if (typeof v === 'object' && v !== null && !isArray(v) && !isBoxed(v)) r = viewOf(v);
      trackNesting(this, r);
      return r;
    }, space);
  };
  defineProperty(JSON, 'stringify', {
    ...getOwnPropertyDescriptor(JSON, 'stringify'),
    value: {
      stringify(value, replacer, space) {
        charge(1);
        let counted;
        if (typeof replacer === 'function') {
          if ($__v >= 2) {
            return charged3(stringifyTracked(value, function (key, v) {
              charge(1);
              const r = apply(replacer, this, [key, v]);
              trackNesting(this, r);
              return r;
            }, space));
          }
          counted = function (key, v) {
            charge(1);
            return apply(replacer, this, [key, v]);
          };
        } else if (isArray(replacer) && $__v >= 3) {
          return charged3(stringifyAllowlist(value, replacer, space));
        } else if (isArray(replacer)) {
          // An allowlist: its semantics cannot be expressed by a function replacer, so charge
          // by the list and by the result.
          charge(lengthOf(replacer));
          const out = apply(jsonStringify, JSON, [value, replacer, space]);
          charge(stringLength(out) / 16);
          return out;
        } else if ($__v >= 2) {
          return charged3(stringifyTracked(value, countValue, space));
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
    originalOf.set(wrapper, original);
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
  // Version 2: hand-written wrappers for the charged builtins on liveslots', marshal's and SES's
  // hot paths (SES's uncurryThis calls Reflect.apply for every uncurried method call). They
  // charge what the generic wrappers above charge, before the call, but without a rest array,
  // and each is a function of its own, so the engine sees one callee per call site instead of
  // the generic wrapper's megamorphic `apply(original, this, args)`. (Reflect.apply and
  // JSON.parse cost one computron less than in version 1: their generic cost functions
  // destructure the argument list, and that array iteration reaches instrumented code installed
  // after this prelude, which ticks.)
  // Where the arguments are primitives that the builtin cannot turn into a call back into vat
  // code (a string `this` and string or absent arguments, JSON.parse without a reviver, `new
  // Map()`), the call also skips the depth level and its try/finally: the builtin runs no JS, so
  // it adds no JS frame that could recur. Any other argument takes the generic wrapper.
  if ($__v >= 2) {
    const fast = (obj, name, make) => {
      const desc = getOwnPropertyDescriptor(obj, name);
      const generic = desc.value;
      const original = originalOf.get(generic);
      if (original === undefined) throw Error(`meter prelude: ${name} is not wrapped`);
      const wrapper = make(original, generic);
      defineProperty(wrapper, 'length', { value: original.length });
      defineProperty(obj, name, { ...desc, value: wrapper });
      originalOf.set(wrapper, original);
    };
    // A string scan: one computron per 16 characters of `this` (perChars), the same as the
    // generic wrapper; the fast path when `this` and the search are strings and the position is
    // absent or a number (ToString/ToNumber of those run no code).
    const isPosition = p => p === undefined || typeof p === 'number';
    for (const name of ['startsWith', 'endsWith', 'includes', 'indexOf']) {
      fast(String.prototype, name, (original, generic) => ({
        [name](search, position) {
          if (typeof this === 'string' && typeof search === 'string' && isPosition(position)) {
            charge(1 + this.length / 16);
            return original.call(this, search, position);
          }
          return apply(generic, this, arguments);
        },
      })[name]);
    }
    // A string copy, charged after by its result as the generic wrapper does (its work is
    // bounded by the string the vat already has).
    fast(String.prototype, 'slice', (original, generic) => ({
      slice(start, end) {
        if (typeof this === 'string' && isPosition(start) && isPosition(end)) {
          const r = original.call(this, start, end);
          charge(1 + r.length / 16);
          return r;
        }
        return apply(generic, this, arguments);
      },
    }).slice);
    // The same for arrays: `slice` of a plain array (its `constructor` is read for the result's
    // species, as it is through the generic wrapper, which counts no depth either).
    fast(Array.prototype, 'slice', (original, generic) => ({
      slice(start, end) {
        if (isArray(this) && isPosition(start) && isPosition(end)) {
          const r = original.call(this, start, end);
          charge(1 + lengthOf(r));
          return r;
        }
        return apply(generic, this, arguments);
      },
    }).slice);
    // Element visitors with up to two arguments, each of which they treat the same absent or
    // undefined: 1 + length, one level of depth around the call, as the generic wrapper.
    const visitors = [
      'map', 'forEach', 'filter', 'some', 'every', 'find', 'findIndex', 'includes', 'indexOf',
      'join',
    ];
    for (const name of visitors) {
      fast(Array.prototype, name, original => ({
        [name](callback, thisArg) {
          charge(1 + lengthOf(this));
          const d = ++$__m.d;
          if (d > $__m.L) $__deep();
          try {
            return original.call(this, callback, thisArg);
          } finally {
            $__m.d = d - 1;
          }
        },
      })[name]);
    }
    // reduce and reduceRight: an absent initial value is not an undefined one.
    for (const name of ['reduce', 'reduceRight']) {
      fast(Array.prototype, name, original => ({
        [name](callback, initialValue) {
          charge(1 + lengthOf(this));
          const d = ++$__m.d;
          if (d > $__m.L) $__deep();
          try {
            return arguments.length < 2 ? original.call(this, callback) :
              original.call(this, callback, initialValue);
          } finally {
            $__m.d = d - 1;
          }
        },
      })[name]);
    }
    // apply: 1 + the argument count, one level of depth around the call.
    fast(Reflect, 'apply', original => ({
      apply(target, thisArgument, argumentsList) {
        charge(1 + lengthOf(argumentsList));
        const d = ++$__m.d;
        if (d > $__m.L) $__deep();
        try {
          return original(target, thisArgument, argumentsList);
        } finally {
          $__m.d = d - 1;
        }
      },
    }).apply);
    fast(Function.prototype, 'apply', original => ({
      apply(thisArg, argArray) {
        charge(1 + lengthOf(argArray));
        const d = ++$__m.d;
        if (d > $__m.L) $__deep();
        try {
          return original.call(this, thisArg, argArray);
        } finally {
          $__m.d = d - 1;
        }
      },
    }).apply);
    // Own-key listings (harden() lists every object it freezes), after the call by what they
    // return, as the generic listing wrapper.
    fast(Reflect, 'ownKeys', original => ({
      ownKeys(o) {
        const r = original(o);
        charge(1 + r.length);
        return r;
      },
    }).ownKeys);
    for (const name of ['keys', 'getOwnPropertyNames']) {
      fast(Object, name, original => ({
        [name](o) {
          const r = original(o);
          charge(1 + r.length);
          return r;
        },
      })[name]);
    }
    fast(Object, 'getOwnPropertyDescriptors', original => ({
      getOwnPropertyDescriptors(o) {
        const r = original(o);
        charge(1 + ownKeys(r).length);
        return r;
      },
    }).getOwnPropertyDescriptors);
    // JSON.parse without a reviver builds plain data and runs no code.
    fast(JSON, 'parse', (original, generic) => ({
      parse(text, reviver) {
        if (typeof text === 'string' && reviver === undefined) {
          charge(1 + text.length / 4);
          return original(text);
        }
        return apply(generic, this, arguments);
      },
    }).parse);
  }

  // Version 2: builtins that recurse natively over nested data. SpiderMonkey stops a native
  // recursion at its stack limit, whose depth depends on the node (stack size, JIT tier), and
  // vat code run inside (getters, proxy traps, a reviver) would have ticked a node-dependent
  // number of times by then. These run with an explicit stack here instead, by the steps of
  // the language spec, one computron per value visited.
  if ($__v >= 2) {
    const { has, defineProperty: defineOwn, deleteProperty } = Reflect;
    const { keys } = Object;
    const { trunc } = Math;
    const MAX_INDEX = 2 ** 53 - 1;
    const OriginalProxy = Proxy;
    const OriginalArray = Array;
    const speciesSymbol = Symbol.species;
    const toIntegerOrInfinity = x => {
      const n = +x;
      if (n !== n || n === 0) return 0;
      if (n === Infinity || n === -Infinity) return n;
      return trunc(n);
    };
    const lengthOfArrayLike = o => {
      const n = toIntegerOrInfinity(o.length);
      return n <= 0 ? 0 : n < MAX_INDEX ? n : MAX_INDEX;
    };
    const isConstructor = c => {
      if (typeof c !== 'function') return false;
      try {
        // A proxy over c is constructible only if c is; its construct trap runs no code of c.
        construct(new OriginalProxy(c, { construct: () => ({}) }), []);
        return true;
      } catch (e) {
        return false;
      }
    };
    const arraySpeciesCreate = o => {
      if (!isArray(o)) return new OriginalArray(0);
      let c = o.constructor;
      if (typeof c === 'object' || typeof c === 'function') {
        if (c !== null) {
          c = c[speciesSymbol];
          if (c === null) c = undefined;
        }
      }
      if (c === undefined) return new OriginalArray(0);
      if (!isConstructor(c)) throw TypeError('Array species is not a constructor');
      return construct(c, [0]);
    };
    const createDataPropertyOrThrow = (o, key, value) => {
      const ok = defineOwn(o, key, { value, writable: true, enumerable: true, configurable: true });
      if (!ok) throw TypeError(`cannot define property ${key}`);
    };

    // Array.prototype.flat: FlattenIntoArray, each level a frame on an explicit stack.
    const flat = {
      flat(depthArg = undefined) {
        if (this === null || this === undefined) {
          throw TypeError('Array.prototype.flat called on null or undefined');
        }
        const o = Object(this);
        const sourceLen = lengthOfArrayLike(o);
        let depthNum = 1;
        if (depthArg !== undefined) {
          depthNum = toIntegerOrInfinity(depthArg);
          if (depthNum < 0) depthNum = 0;
        }
        const a = arraySpeciesCreate(o);
        charge(1);
        let targetIndex = 0;
        const frames = [{ source: o, len: sourceLen, index: 0, depth: depthNum }];
        let top = 0;
        while (top >= 0) {
          const f = frames[top];
          if (f.index >= f.len) {
            top -= 1;
            continue;
          }
          const key = `${f.index}`;
          f.index += 1;
          charge(1);
          if (!has(f.source, key)) continue;
          const element = f.source[key];
          if (f.depth > 0 && isArray(element)) {
            top += 1;
            frames[top] = {
              source: element,
              len: lengthOfArrayLike(element),
              index: 0,
              depth: f.depth === Infinity ? Infinity : f.depth - 1,
            };
          } else {
            if (targetIndex >= MAX_INDEX) throw TypeError('flat: result too long');
            createDataPropertyOrThrow(a, `${targetIndex}`, element);
            targetIndex += 1;
          }
        }
        return a;
      },
    }.flat;
    defineProperty(OriginalArray.prototype, 'flat', {
      ...getOwnPropertyDescriptor(OriginalArray.prototype, 'flat'),
      value: flat,
    });

    // JSON.parse with a reviver: InternalizeJSONProperty (post-order: a value's members are
    // revived before it) on an explicit stack, over the result of the native parse.
    const jsonParse = JSON.parse;  // the charged one: 1 + length / 4
    defineProperty(JSON, 'parse', {
      ...getOwnPropertyDescriptor(JSON, 'parse'),
      value: {
        parse(text, reviver) {
          const unfiltered = apply(jsonParse, JSON, [text]);
          if (typeof reviver !== 'function') return unfiltered;
          const root = { '': unfiltered };
          // A frame: holder[name] is being internalized; once `keys` is set, its members
          // `keys[next..]` are still to be done.
          const frames = [{ holder: root, name: '', val: undefined, keys: null, next: 0 }];
          let top = 0;
          let result;
          while (top >= 0) {
            const f = frames[top];
            if (f.keys === null) {
              charge(1);
              f.val = f.holder[f.name];
              const v = f.val;
              if (typeof v === 'object' && v !== null) {
                if (isArray(v)) {
                  const len = lengthOfArrayLike(v);
                  const ks = [];
                  for (let i = 0; i < len; i += 1) ks[i] = `${i}`;
                  charge(len);
                  f.keys = ks;
                } else {
                  f.keys = keys(v);
                }
              } else {
                f.keys = [];
              }
            }
            if (f.next < f.keys.length) {
              const name = f.keys[f.next];
              f.next += 1;
              top += 1;
              frames[top] = { holder: f.val, name, val: undefined, keys: null, next: 0 };
              continue;
            }
            const revived = apply(reviver, f.holder, [f.name, f.val]);
            top -= 1;
            if (top < 0) {
              result = revived;
            } else if (revived === undefined) {
              deleteProperty(f.holder, f.name);
            } else {
              defineOwn(f.holder, f.name, {
                value: revived, writable: true, enumerable: true, configurable: true,
              });
            }
          }
          return result;
        },
      }.parse,
    });
  }

  // Version 3 (see the wrappers of property keys and strings above): what must run outside the
  // other wrappers, which call the builtin directly on their fast paths.
  if ($__v >= 3) {
    const stringProto = String.prototype;
    // A replacer function's result is converted to a string by the builtin.
    for (const name of ['replace', 'replaceAll']) {
      const desc = getOwnPropertyDescriptor(stringProto, name);
      const inner = desc.value;
      const wrapper = {
        [name](pattern, replacement) {
          if (typeof replacement !== 'function') return apply(inner, this, arguments);
          const f = replacement;
          return apply(inner, this, [pattern, function () { return $__ks(apply(f, this, arguments)); }]);
        },
      }[name];
      defineProperty(wrapper, 'length', { value: inner.length });
      defineProperty(stringProto, name, { ...desc, value: wrapper });
      originalOf.set(wrapper, originalOf.get(inner) || inner);
    }
    // Object.fromEntries converts each entry's key natively: by the language spec's steps here,
    // the keys through $__pk (one computron per entry).
    {
      const desc = getOwnPropertyDescriptor(Object, 'fromEntries');
      const inner = desc.value;
      const wrapper = {
        fromEntries(iterable) {
          if (iterable === null || iterable === undefined) return inner.call(Object, iterable);
          const obj = {};
          for (const entry of iterable) {
            charge(1);
            if ((typeof entry !== 'object' || entry === null) && typeof entry !== 'function') {
              throw TypeError('Object.fromEntries: an entry is not an object');
            }
            const key = $__pk(entry[0]);
            defineProperty(obj, key, { value: entry[1], writable: true, enumerable: true,
                                       configurable: true });
          }
          return obj;
        },
      }.fromEntries;
      defineProperty(wrapper, 'length', { value: inner.length });
      defineProperty(Object, 'fromEntries', { ...desc, value: wrapper });
      originalOf.set(wrapper, originalOf.get(inner) || inner);
    }
    // Map and Set hash a string key by all its characters, on every call: a long one is
    // charged by its length (the constructors add their entries through these).
    const keyed = (proto, names) => {
      for (const name of names) {
        const desc = getOwnPropertyDescriptor(proto, name);
        const inner = desc.value;
        const wrapper = name === 'set' ? {
          set(key, value) {
            if (typeof key === 'string' && key.length > 256) charge(key.length / 16);
            return inner.call(this, key, value);
          },
        }.set : {
          [name](key) {
            if (typeof key === 'string' && key.length > 256) charge(key.length / 16);
            return inner.call(this, key);
          },
        }[name];
        defineProperty(wrapper, 'length', { value: inner.length });
        defineProperty(proto, name, { ...desc, value: wrapper });
      }
    };
    keyed(Map.prototype, ['get', 'set', 'has', 'delete']);
    keyed(Set.prototype, ['add', 'has', 'delete']);
    // Arrays: join (and toString, which calls join) and the default order of sort convert each
    // element; a BigInt element is charged (a plain array only: reading a proxy's elements
    // would run its traps twice).
    const toLength = x => {
      const v = +x;
      if (!(v > 0)) return 0;
      return v < 2 ** 53 - 1 ? floor(v) : 2 ** 53 - 1;
    };
    // (The scan is charged first, one computron per element: `Array(1e8).join()` stops before
    // it, as before the builtin.)
    const chargeElements = a => {
      if (!isArray(a) || nesting.has(a)) return;
      const n = a.length;
      charge(1 + n);
      for (let i = 0; i < n; i += 1) {
        const e = a[i];
        if (typeof e === 'bigint') $__ks(e);
      }
    };
    {
      // join converts each element natively, also an object whose toString returns a BigInt:
      // so the elements are read here (once each, in order, as join reads them) and converted
      // through $__ks, and the builtin joins the converted copy (one computron per element for
      // the copy, before it).
      const desc = getOwnPropertyDescriptor(Array.prototype, 'join');
      const inner = desc.value;
      const wrapper = {
        join(separator) {
          if (this === null || this === undefined) return inner.call(this, separator);
          const o = Object(this);
          const len = toLength(o.length);
          charge(1 + len);
          const sep = separator === undefined ? separator : $__ks(separator);
          const copy = [];
          for (let i = 0; i < len; i += 1) {
            const e = o[i];
            copy[i] = e === undefined || e === null ? e : $__ks(e);
          }
          return inner.call(copy, sep);
        },
      }.join;
      defineProperty(wrapper, 'length', { value: inner.length });
      defineProperty(Array.prototype, 'join', { ...desc, value: wrapper });
      originalOf.set(wrapper, originalOf.get(inner) || inner);
    }
    {
      const desc = getOwnPropertyDescriptor(Array.prototype, 'sort');
      const inner = desc.value;
      const wrapper = {
        sort(comparefn) {
          if (comparefn === undefined) chargeElements(this);
          return inner.call(this, comparefn);
        },
      }.sort;
      defineProperty(wrapper, 'length', { value: inner.length });
      defineProperty(Array.prototype, 'sort', { ...desc, value: wrapper });
      originalOf.set(wrapper, originalOf.get(inner) || inner);
    }
  }

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

// Version 2: regular expressions run on RE2, a linear-time engine, instead of the backtracking
// irregexp (`/^(a+)+$/` on 'a'*30+'b' would run for seconds in one native call). The native
// charges 1 + (text from lastIndex + 1) * (program size + 1) / 4 before it matches, and refuses
// with a SyntaxError a pattern it cannot run exactly as JS would (backreferences, lookaround).
// SpiderMonkey's test/match/matchAll/replace/split/search call the replaced exec.
if ($__v >= 2) {
  const { defineProperty, getOwnPropertyDescriptor } = Object;
  defineProperty(RegExp.prototype, 'exec', {
    ...getOwnPropertyDescriptor(RegExp.prototype, 'exec'),
    value: {
      // Method syntax: name 'exec', length 1, no `prototype`, like the original.
      exec(string) {
        const d = ++$__m.d;
        if (d > $__m.L) $__deep();
        try {
          return $__re($__m, this, string);
        } finally {
          $__m.d = d - 1;
        }
      },
    }.exec,
  });
}
$__m;
