// lite_lockdown.js: an experimental hardening of a vat realm without SES (host option
// JsVatHostOptions::lite_lockdown, OFF by default; see vats/README.md "Lite lockdown").
//
// Why: SES's bundle stays reachable as a whole after lockdown(). Every tamed intrinsic SES
// installs (property-override accessors, Date/Error/RegExp constructors, Function.prototype
// .toString, DataView setters, assert, ...) is a closure of one of the bundle's modules, and
// through the bundler's import cells every module's scope reaches every other one: ~0.64 MB of
// GC heap per realm (scripts, scopes, cells, module data) that no vat code uses. (Vat realms now
// load SES from its ES modules instead, and what stays of it is ~0.25 MB: vats/README.md.)
//
// The completion value is a function; the host calls it once, after harden.js, in a fresh realm.
// It applies to the realm's own intrinsics what SES applies to a compartment's shared ones
// (vat code runs in the realm itself; nothing here needs the original powers):
// - Date: `Date()`, `new Date()` and `Date.now()` throw (SES's %SharedDate%); Math.random throws.
// - RegExp: a constructor without the legacy statics ($1, lastMatch, input, ...), which
//   SpiderMonkey defines non-configurable; RegExp.prototype.compile removed.
// - Locale methods replaced by their non-locale versions (as SES's localeTaming 'safe');
//   Intl removed (SES keeps it; Intl.DateTimeFormat().format() reads the clock).
// - DataView setFloat32/setFloat64 write canonical NaN bits (as SES).
// - No SharedArrayBuffer, Atomics, WebAssembly (WeakRef, FinalizationRegistry and gc are removed by boot()).
// - SES's "moderate" property-override accessors, so that assigning e.g. `name` on an error or
//   `toString` on an object still works although the prototypes are frozen.
// - A small `assert` (the SES global's surface, without its message redaction).
// - Every intrinsic reachable from the global, plus the hidden ones (iterator, generator and
//   async prototypes, %TypedArray%, %ThrowTypeError%), hardened.
(function makeLiteLockdown() {
  'use strict';

  return function liteLockdown() {
    const g = globalThis;
    const { harden } = g;
    const {
      defineProperty,
      defineProperties,
      freeze,
      getOwnPropertyDescriptor,
      getOwnPropertyDescriptors,
      getOwnPropertyNames,
      getPrototypeOf,
      is,
    } = Object;
    const { apply, construct, ownKeys } = Reflect;
    // Captured now: vat code may replace these globals; the closures below must not see that.
    const { Error, JSON, RangeError, String, TypeError } = g;
    const objectHasOwnProperty = Object.prototype.hasOwnProperty;
    const hasOwn = (o, k) => apply(objectHasOwnProperty, o, [k]);
    const regExpExec = RegExp.prototype.exec;

    // ---- hidden intrinsics (captured before anything is replaced) ------------------------
    const AsyncFunctionPrototype = getPrototypeOf(async function () {});
    const GeneratorFunctionPrototype = getPrototypeOf(function* () {});
    const AsyncGeneratorFunctionPrototype = getPrototypeOf(async function* () {});
    const IteratorPrototype = getPrototypeOf(getPrototypeOf([][Symbol.iterator]()));
    const AsyncIteratorPrototype = getPrototypeOf(AsyncGeneratorFunctionPrototype.prototype);
    const TypedArray = getPrototypeOf(Int8Array);
    const ThrowTypeError = (function () {
      // eslint-disable-next-line prefer-rest-params
      return getOwnPropertyDescriptor(arguments, 'callee').get;
    })();
    const hidden = [
      AsyncFunctionPrototype,
      GeneratorFunctionPrototype,
      AsyncGeneratorFunctionPrototype,
      IteratorPrototype,
      AsyncIteratorPrototype,
      getPrototypeOf([][Symbol.iterator]()),
      getPrototypeOf(new Map()[Symbol.iterator]()),
      getPrototypeOf(new Set()[Symbol.iterator]()),
      getPrototypeOf(''[Symbol.iterator]()),
      getPrototypeOf(/a/g[Symbol.matchAll]('')),
      TypedArray,
      ThrowTypeError,
    ];

    // ---- Date ------------------------------------------------------------------------------
    const OriginalDate = g.Date;
    const DatePrototype = OriginalDate.prototype;
    const tamedDate = {
      Date: function Date(...rest) {
        if (new.target === undefined) {
          throw TypeError('secure mode Calling %SharedDate% constructor as a function throws');
        }
        if (rest.length === 0) {
          throw TypeError('secure mode Calling new %SharedDate%() with no arguments throws');
        }
        return construct(OriginalDate, rest, new.target);
      },
      now() {
        throw TypeError('secure mode Calling %SharedDate%.now() throws');
      },
    };
    const SharedDate = tamedDate.Date;
    defineProperties(SharedDate, {
      length: { value: 7 },
      prototype: { value: DatePrototype, writable: false, enumerable: false, configurable: false },
      parse: { value: OriginalDate.parse, writable: true, enumerable: false, configurable: true },
      UTC: { value: OriginalDate.UTC, writable: true, enumerable: false, configurable: true },
      now: { value: tamedDate.now, writable: true, enumerable: false, configurable: true },
    });
    defineProperty(DatePrototype, 'constructor', { value: SharedDate });
    defineProperty(g, 'Date', { value: SharedDate });

    // ---- Math ------------------------------------------------------------------------------
    const tamedMath = {
      random() {
        throw TypeError('secure mode %SharedMath%.random() throws');
      },
    };
    defineProperty(g.Math, 'random', { value: tamedMath.random });

    // ---- RegExp ----------------------------------------------------------------------------
    const OriginalRegExp = g.RegExp;
    const RegExpPrototype = OriginalRegExp.prototype;
    const SharedRegExp = function RegExp(...rest) {
      if (new.target === undefined) return apply(OriginalRegExp, undefined, rest);
      return construct(OriginalRegExp, rest, new.target);
    };
    defineProperties(SharedRegExp, {
      length: { value: 2 },
      prototype: { value: RegExpPrototype, writable: false, enumerable: false, configurable: false },
      [Symbol.species]: getOwnPropertyDescriptor(OriginalRegExp, Symbol.species),
    });
    delete RegExpPrototype.compile;
    defineProperty(RegExpPrototype, 'constructor', { value: SharedRegExp });
    defineProperty(g, 'RegExp', { value: SharedRegExp });

    // ---- removed globals ---------------------------------------------------------------------
    for (const name of ['Intl', 'SharedArrayBuffer', 'Atomics', 'WebAssembly']) delete g[name];

    // ---- locale methods ----------------------------------------------------------------------
    const tamedLocale = {
      localeCompare(that) {
        if (this === null || this === undefined) {
          throw TypeError('Cannot localeCompare with null or undefined "this" value');
        }
        const s = `${this}`;
        const t = `${that}`;
        if (s < t) return -1;
        if (s > t) return 1;
        return 0;
      },
      toString() {
        return `${this}`;
      },
    };
    const localePattern = /^(\w*[a-z])Locale([A-Z]\w*)$/;
    const tameLocale = obj => {
      for (const name of getOwnPropertyNames(obj)) {
        const match = apply(regExpExec, localePattern, [name]);
        if (!match) continue;
        const desc = getOwnPropertyDescriptor(obj, name);
        if (!('value' in desc) || typeof desc.value !== 'function') continue;
        const plain = obj[`${match[1]}${match[2]}`];
        if (typeof plain !== 'function') throw TypeError(`no ${match[1]}${match[2]} for ${name}`);
        defineProperty(obj, name, { value: plain });
      }
    };

    // ---- DataView NaN canonicalization -------------------------------------------------------
    const DataViewPrototype = DataView.prototype;
    const { setFloat32, setFloat64, setUint32, setBigUint64 } = DataViewPrototype;
    const tamedDataView = {
      setFloat32(byteOffset, value, littleEndian = undefined) {
        const n = +value;
        if (is(n, NaN)) return apply(setUint32, this, [byteOffset, 0x7fc00000, littleEndian]);
        return apply(setFloat32, this, [byteOffset, n, littleEndian]);
      },
      setFloat64(byteOffset, value, littleEndian = undefined) {
        const n = +value;
        if (is(n, NaN)) {
          return apply(setBigUint64, this, [byteOffset, 0x7ff8000000000000n, littleEndian]);
        }
        return apply(setFloat64, this, [byteOffset, n, littleEndian]);
      },
    };
    defineProperty(DataViewPrototype, 'setFloat32', { value: tamedDataView.setFloat32 });
    defineProperty(DataViewPrototype, 'setFloat64', { value: tamedDataView.setFloat64 });

    // ---- assert (the surface of SES's global `assert`) ----------------------------------------
    const quote = (payload, spaces = undefined) => {
      const text = (() => {
        try {
          return JSON.stringify(payload, undefined, spaces);
        } catch (e) {
          return undefined;
        }
      })();
      return freeze({ toString: () => (text === undefined ? String(payload) : text) });
    };
    const details = (template, ...args) => {
      let text = template[0];
      for (let i = 0; i < args.length; i += 1) {
        const a = args[i];
        text += (typeof a === 'string' ? a : String(a)) + template[i + 1];
      }
      return freeze({ toString: () => text });
    };
    const makeError = (optDetails = 'Assert failed', ErrorCtor = Error, options = undefined) => {
      const message = typeof optDetails === 'string' ? optDetails : String(optDetails);
      return options === undefined ? new ErrorCtor(message) : new ErrorCtor(message, options);
    };
    const makeAssert = () => {
      const fail = (optDetails = 'Assert failed', ErrorCtor = Error) => {
        throw makeError(optDetails, ErrorCtor);
      };
      const baseAssert = (flag, optDetails = 'Check failed', ErrorCtor = Error) => {
        if (!flag) fail(optDetails, ErrorCtor);
      };
      const equal = (actual, expected, optDetails = undefined, ErrorCtor = RangeError) => {
        if (!is(actual, expected)) {
          fail(optDetails === undefined ? `Expected ${actual} is same as ${expected}` : optDetails,
            ErrorCtor);
        }
      };
      const assertTypeof = (specimen, typename, optDetails = undefined) => {
        if (typeof specimen !== typename) {
          fail(optDetails === undefined ? `${specimen} must be ${typename}` : optDetails,
            TypeError);
        }
      };
      return freeze(
        Object.assign(baseAssert, {
          error: makeError,
          fail,
          equal,
          typeof: assertTypeof,
          string: (specimen, optDetails = undefined) => assertTypeof(specimen, 'string', optDetails),
          note: () => {},
          details,
          Fail: (template, ...args) => fail(details(template, ...args)),
          quote,
          bare: (payload, spaces = undefined) => quote(payload, spaces),
          makeAssert,
        }),
      );
    };
    defineProperty(g, 'assert', { value: makeAssert(), writable: true, enumerable: false,
      configurable: true });

    // ---- property overrides (SES's "moderate" set) ---------------------------------------------
    const enable = (obj, prop) => {
      const desc = getOwnPropertyDescriptor(obj, prop);
      if (!desc || !('value' in desc) || !desc.configurable) return;
      const { value } = desc;
      const { get: getter, set: setter } = getOwnPropertyDescriptor(
        {
          get [prop]() {
            return value;
          },
          set [prop](newValue) {
            if (obj === this) {
              throw TypeError(`Cannot assign to read only property '${String(prop)}'`);
            }
            if (hasOwn(this, prop)) {
              this[prop] = newValue;
            } else {
              defineProperty(this, prop, { value: newValue, writable: true, enumerable: true,
                configurable: true });
            }
          },
        },
        prop,
      );
      defineProperty(getter, 'originalValue', { value, writable: false, enumerable: false,
        configurable: false });
      defineProperty(obj, prop, { get: getter, set: setter, enumerable: desc.enumerable,
        configurable: desc.configurable });
    };
    const I = Symbol.iterator;
    const T = Symbol.toStringTag;
    const overrides = [
      [Object.prototype, ['toString', 'valueOf']],
      [Function.prototype, ['toString', 'constructor', 'bind']],
      [Error.prototype, ['name', 'constructor', 'message', 'toString']],
      [IteratorPrototype, ['toString', 'constructor', T, I]],
      [Array.prototype, ['toString', 'push', 'concat', I]],
      [TypeError.prototype, ['constructor', 'message', 'name']],
      [SyntaxError.prototype, ['message', 'name']],
      [RangeError.prototype, ['message', 'name']],
      [URIError.prototype, ['message', 'name']],
      [EvalError.prototype, ['message', 'name']],
      [ReferenceError.prototype, ['message', 'name']],
      [Promise.prototype, ['constructor']],
      [GeneratorFunctionPrototype.prototype, ['constructor', 'name', 'toString']],
    ];
    if (typeof g.AggregateError === 'function') {
      overrides.push([g.AggregateError.prototype, ['message', 'name']]);
    }

    // ---- apply, then harden everything --------------------------------------------------------
    const roots = [];
    for (const name of ownKeys(g)) {
      const desc = getOwnPropertyDescriptor(g, name);
      if ('value' in desc && desc.value !== g) roots.push(desc.value);
    }
    for (const obj of [...roots, ...hidden]) {
      if ((typeof obj === 'object' && obj !== null) || typeof obj === 'function') {
        tameLocale(obj);
        if (typeof obj === 'function' && obj.prototype) tameLocale(obj.prototype);
      }
    }
    // After the generic pass: Number's and BigInt's own toString take a radix, which
    // toLocaleString(locales) must not pass on.
    defineProperty(Number.prototype, 'toLocaleString', { value: tamedLocale.toString });
    defineProperty(BigInt.prototype, 'toLocaleString', { value: tamedLocale.toString });
    defineProperty(String.prototype, 'localeCompare', { value: tamedLocale.localeCompare });
    for (const p of getOwnPropertyNames(TypedArray.prototype)) enable(TypedArray.prototype, p);
    for (const p of ownKeys(TypedArray.prototype)) {
      if (typeof p === 'symbol') enable(TypedArray.prototype, p);
    }
    for (const [obj, props] of overrides) for (const p of props) enable(obj, p);

    // The realm's global object itself stays extensible (boot() installs the vat's globals),
    // as SES leaves the start compartment's global.
    for (const obj of [...roots, ...hidden]) harden(obj);
    // Unreachable from vat code once replaced, but harmless to freeze too.
    harden([OriginalDate, OriginalRegExp]);
  };
})();
