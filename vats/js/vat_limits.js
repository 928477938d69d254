// vat_limits.js: deterministic size caps on what vat code can make the engine allocate in one
// step (genesis params, the same on every node; see Params in lifecycle.proto).
//
// Evaluated by the host in each fresh vat realm BEFORE harden.js, SES and lockdown(), so SES
// takes the wrapped constructors and methods as the intrinsics and hardens them; the originals
// are reachable only from the closures below. Called as installVatLimits(limits) with
//   maxBufferBytes             bytes of one ArrayBuffer (or the buffer a TypedArray allocates)
//   maxBufferBytesPerDelivery  bytes of all buffers the constructors allocate in one delivery
//                              (the host calls resetDelivery() before each delivery)
//   maxStringLength            UTF-16 units of a string built by repeat, padStart, padEnd,
//                              concat, join, replace, replaceAll, String.fromCharCode,
//                              String.fromCodePoint, String.raw, JSON.stringify
// Above a cap the operation throws RangeError("vat limit: ..."), which vat code may catch.
//
// What allocates buffers in SpiderMonkey 102 vat realms: new ArrayBuffer(n), new <TA>(n),
// new <TA>(typedArray | arrayLike | iterable), <TA>.from/of (they construct through `this`,
// the wrapper), and the species-created results of map/filter/slice (through the instance's
// `constructor`, the wrapper; a vat that hides it gets the engine's default constructor, but
// those results are never larger than an existing, capped, array). DataView and subarray only
// view an existing buffer. There is no SharedArrayBuffer or Atomics (shared memory is off in
// vat realms), no structuredClone, no ArrayBuffer.prototype.transfer or resize, and no
// WebAssembly (disabled for the whole context).
//
// String `+` and template literals are capped at maxStringLength by the meter prelude's
// operator helpers (meter version 2 and later); other builtins stay bounded by SpiderMonkey's
// own maximum string length (a build constant, the same on every node running the pinned
// engine).
(function installVatLimits(limits) {
  'use strict';
  const g = globalThis;
  const {
    apply,
    construct,
    defineProperty,
    getOwnPropertyDescriptor,
    getPrototypeOf,
    ownKeys,
    setPrototypeOf,
  } = Reflect;
  const { isSafeInteger, MAX_SAFE_INTEGER } = Number;
  const { floor } = Math;
  const ObjectCtor = Object;
  const RangeErrorCtor = RangeError;
  const TypeErrorCtor = TypeError;
  const iteratorSymbol = Symbol.iterator;
  const arrayPush = Array.prototype.push;

  const num = (v, name) => {
    const n = v === undefined ? NaN : +v;
    if (!isSafeInteger(n) || n <= 0) throw TypeErrorCtor(`vat limits: bad ${name}`);
    return n;
  };
  const maxBufferBytes = num(limits.maxBufferBytes, 'maxBufferBytes');
  const maxDeliveryBytes = num(limits.maxBufferBytesPerDelivery, 'maxBufferBytesPerDelivery');
  const maxStringLength = num(limits.maxStringLength, 'maxStringLength');
  let deliveryBytes = 0;

  const fail = what => {
    throw RangeErrorCtor(`vat limit: ${what}`);
  };

  // Charges `bytes` of new buffer memory: one buffer's cap, then the delivery's.
  const chargeBuffer = bytes => {
    if (bytes > maxBufferBytes) {
      fail(`an ArrayBuffer of ${bytes} bytes exceeds the cap of ${maxBufferBytes} bytes`);
    }
    if (deliveryBytes + bytes > maxDeliveryBytes) {
      fail(`buffers of more than ${maxDeliveryBytes} bytes allocated in one delivery`);
    }
    deliveryBytes += bytes;
  };

  // ToIndex (ECMA-262 7.1.22), converting once: the converted number is what the original
  // constructor receives, so a valueOf runs exactly once, as it would without the wrapper.
  const toIndex = value => {
    if (value === undefined) return 0;
    let n = +value; // throws on BigInt and Symbol, as ToNumber does
    n = n !== n ? 0 : n < 0 ? -floor(-n) : floor(n); // ToIntegerOrInfinity
    if (n === 0) return 0; // -0
    if (n < 0 || n > MAX_SAFE_INTEGER) throw RangeErrorCtor('invalid array length');
    return n;
  };

  // Makes `wrapper` stand in for the constructor `orig`: same prototype object (whose
  // `constructor` now names the wrapper), same statics, same [[Prototype]].
  const adopt = (wrapper, orig) => {
    for (const key of ownKeys(orig)) {
      if (key === 'length' || key === 'name' || key === 'arguments' || key === 'caller') {
        continue;
      }
      defineProperty(wrapper, key, getOwnPropertyDescriptor(orig, key));
    }
    defineProperty(wrapper, 'name', { value: orig.name, configurable: true });
    defineProperty(wrapper, 'length', { value: orig.length, configurable: true });
    setPrototypeOf(wrapper, getPrototypeOf(orig));
    defineProperty(orig.prototype, 'constructor', {
      value: wrapper,
      writable: true,
      enumerable: false,
      configurable: true,
    });
    defineProperty(g, orig.name, {
      value: wrapper,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  };

  // ---- ArrayBuffer
  const OrigArrayBuffer = g.ArrayBuffer;
  const abByteLength = getOwnPropertyDescriptor(OrigArrayBuffer.prototype, 'byteLength').get;
  const isArrayBuffer = v => {
    try {
      apply(abByteLength, v, []);
      return true;
    } catch (e) {
      return false;
    }
  };
  const ArrayBufferWrapper = function ArrayBuffer(length) {
    if (new.target === undefined) throw TypeErrorCtor("Constructor ArrayBuffer requires 'new'");
    const n = toIndex(length);
    chargeBuffer(n);
    return construct(OrigArrayBuffer, [n], new.target);
  };
  adopt(ArrayBufferWrapper, OrigArrayBuffer);

  // ---- TypedArrays
  const OrigTypedArray = getPrototypeOf(g.Int8Array);
  const taLength = getOwnPropertyDescriptor(OrigTypedArray.prototype, 'length').get;
  const isTypedArray = v => {
    try {
      apply(taLength, v, []);
      return true;
    } catch (e) {
      return false;
    }
  };
  for (const name of [
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'Float32Array',
    'Float64Array',
    'BigInt64Array',
    'BigUint64Array',
  ]) {
    const Orig = g[name];
    if (typeof Orig !== 'function') continue;
    const bytesPer = Orig.BYTES_PER_ELEMENT;
    // Allocates `length` elements and charges them first.
    const make = (length, newTarget) => {
      chargeBuffer(length * bytesPer);
      return construct(Orig, [length], newTarget);
    };
    const Wrapper = {
      [name]: function (arg0, byteOffset, length) {
        if (new.target === undefined) throw TypeErrorCtor(`Constructor ${name} requires 'new'`);
        if ((typeof arg0 !== 'object' && typeof arg0 !== 'function') || arg0 === null) {
          return make(toIndex(arg0), new.target);
        }
        if (isArrayBuffer(arg0)) {
          // A view of an existing buffer: nothing is allocated.
          return construct(Orig, arguments, new.target);
        }
        if (isTypedArray(arg0)) {
          chargeBuffer(apply(taLength, arg0, []) * bytesPer);
          return construct(Orig, [arg0], new.target);
        }
        // An iterable is read into a list first (ECMA-262 23.2.5.1), an array-like by its
        // length; either way the buffer is charged before it is allocated, then filled in the
        // order the spec fills it.
        const usingIterator = arg0[iteratorSymbol];
        if (usingIterator !== undefined && usingIterator !== null) {
          if (typeof usingIterator !== 'function') {
            throw TypeErrorCtor('@@iterator is not callable');
          }
          const values = [];
          for (const v of { [iteratorSymbol]: () => apply(usingIterator, arg0, []) }) {
            apply(arrayPush, values, [v]);
          }
          const ta = make(values.length, new.target);
          for (let k = 0; k < values.length; k += 1) ta[k] = values[k];
          return ta;
        }
        const obj = ObjectCtor(arg0);
        const len = toLength(obj.length);
        const ta = make(len, new.target);
        for (let k = 0; k < len; k += 1) ta[k] = obj[k];
        return ta;
      },
    }[name];
    adopt(Wrapper, Orig);
  }

  function toLength(v) {
    let n = +v;
    n = n !== n ? 0 : n < 0 ? -floor(-n) : floor(n);
    if (n <= 0) return 0;
    return n > MAX_SAFE_INTEGER ? MAX_SAFE_INTEGER : n;
  }

  // ---- strings
  const checkString = (s, what) => {
    if (typeof s === 'string' && s.length > maxStringLength) {
      fail(`${what} would make a string of ${s.length} units (cap ${maxStringLength})`);
    }
    return s;
  };
  const checkWanted = (length, what) => {
    if (length > maxStringLength) {
      fail(`${what} would make a string of ${length} units (cap ${maxStringLength})`);
    }
  };
  const StringProto = String.prototype;
  const orig = {
    repeat: StringProto.repeat,
    padStart: StringProto.padStart,
    padEnd: StringProto.padEnd,
    concat: StringProto.concat,
    replace: StringProto.replace,
    replaceAll: StringProto.replaceAll,
    join: Array.prototype.join,
    fromCharCode: String.fromCharCode,
    fromCodePoint: String.fromCodePoint,
    raw: String.raw,
    stringify: JSON.stringify,
  };
  const StringCtor = String;
  const thisString = (v, what) => {
    if (v === undefined || v === null) throw TypeErrorCtor(`${what} called on ${v}`);
    return StringCtor(v);
  };
  // The results of repeat/padStart/padEnd are known before they are built: checked first,
  // with the arguments converted once and handed on converted.
  const replacements = {
    repeat(count) {
      const s = thisString(this, 'String.prototype.repeat');
      let n = +count;
      n = n !== n ? 0 : n < 0 ? -floor(-n) : floor(n);
      if (n >= 0 && n !== Infinity && s.length > 0) checkWanted(s.length * n, 'repeat');
      return apply(orig.repeat, s, [n]);
    },
    padStart(maxLength, fillString) {
      const s = thisString(this, 'String.prototype.padStart');
      const n = toLength(maxLength);
      const fill = fillString === undefined ? undefined : StringCtor(fillString);
      if (n > s.length && fill !== '') checkWanted(n, 'padStart');
      return apply(orig.padStart, s, [n, fill]);
    },
    padEnd(maxLength, fillString) {
      const s = thisString(this, 'String.prototype.padEnd');
      const n = toLength(maxLength);
      const fill = fillString === undefined ? undefined : StringCtor(fillString);
      if (n > s.length && fill !== '') checkWanted(n, 'padEnd');
      return apply(orig.padEnd, s, [n, fill]);
    },
    // The others are checked on their result: it is built from strings the vat already
    // holds, and SpiderMonkey's maximum string length bounds it meanwhile.
    concat(...args) {
      return checkString(apply(orig.concat, this, args), 'concat');
    },
    replace(...args) {
      return checkString(apply(orig.replace, this, args), 'replace');
    },
    replaceAll(...args) {
      return checkString(apply(orig.replaceAll, this, args), 'replaceAll');
    },
    join(separator) {
      return checkString(apply(orig.join, this, [separator]), 'join');
    },
    fromCharCode(...codes) {
      return checkString(apply(orig.fromCharCode, undefined, codes), 'String.fromCharCode');
    },
    fromCodePoint(...points) {
      return checkString(apply(orig.fromCodePoint, undefined, points), 'String.fromCodePoint');
    },
    raw(...args) {
      return checkString(apply(orig.raw, undefined, args), 'String.raw');
    },
    stringify(...args) {
      return checkString(apply(orig.stringify, undefined, args), 'JSON.stringify');
    },
  };
  const setMethod = (obj, name, fn, length) => {
    defineProperty(fn, 'length', { value: length, configurable: true });
    defineProperty(obj, name, { value: fn, writable: true, enumerable: false, configurable: true });
  };
  setMethod(StringProto, 'repeat', replacements.repeat, 1);
  setMethod(StringProto, 'padStart', replacements.padStart, 1);
  setMethod(StringProto, 'padEnd', replacements.padEnd, 1);
  setMethod(StringProto, 'concat', replacements.concat, 1);
  setMethod(StringProto, 'replace', replacements.replace, 2);
  setMethod(StringProto, 'replaceAll', replacements.replaceAll, 2);
  setMethod(Array.prototype, 'join', replacements.join, 1);
  setMethod(String, 'fromCharCode', replacements.fromCharCode, 1);
  setMethod(String, 'fromCodePoint', replacements.fromCodePoint, 1);
  setMethod(String, 'raw', replacements.raw, 1);
  setMethod(JSON, 'stringify', replacements.stringify, 3);

  // For the host only (never reachable from vat code).
  return {
    resetDelivery() {
      deliveryBytes = 0;
    },
  };
});
