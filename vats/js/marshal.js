// marshal.js: capdata {body, slots} in the "smallcaps" body format (docs/KERNEL_SPEC.md §3.1).
//
// body = "#" + JSON. Inside the JSON:
//   null, booleans, finite numbers (-0 written as 0), plain strings      as themselves
//   strings starting with one of  ! " # $ % & ' ( ) * + , -               "!" + string
//   undefined / NaN / Infinity / -Infinity        "#undefined" "#NaN" "#Infinity" "#-Infinity"
//   bigint                                        "+123" / "-123"
//   symbol                                        "%" + name ("%@@asyncIterator")
//   copyArray                                     JSON array
//   copyRecord                                    JSON object, keys sorted and encoded as strings
//   tagged                                        {"#tag": tag, "payload": payload}
//   error                                         {"#error": message, "name": name}
//   remotable (slot i)                            "$i.<interface>", e.g. "$0.Alleged: counter"
//   promise (slot i)                              "&i"
// A value that appears twice reuses its slot index. Installer for the runtime namespace (see
// pass_style.js); our own implementation of the format endo's marshal defines.
(function installMarshal(ns) {
  'use strict';
  // Captured at install time (after lockdown): vat code may replace the global `harden`.
  const { harden } = globalThis;
  // See pass_style.js: freezes and records as hardened an object whose parts are hardened.
  const hardenFresh = ns.hardenInternals ? ns.hardenInternals.hardenFresh : harden;

  const { passStyleOf, getInterfaceOf, makeTagged, getTag, nameForPassableSymbol,
    passableSymbolForName } = ns.passStyle;
  const { ownKeys } = Reflect;
  const { isArray } = Array;
  const { is, fromEntries, freeze } = Object;
  const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

  const startsSpecial = s => {
    if (s === '') return false;
    const c = s.charCodeAt(0);
    return c >= 0x21 && c <= 0x2d; // '!' .. '-'
  };

  const errorConstructors = new Map([
    ['Error', Error],
    ['EvalError', EvalError],
    ['RangeError', RangeError],
    ['ReferenceError', ReferenceError],
    ['SyntaxError', SyntaxError],
    ['TypeError', TypeError],
    ['URIError', URIError],
    ['AggregateError', AggregateError],
  ]);

  // convertValToSlot(val) -> slot string; convertSlotToVal(slot, iface) -> value.
  function makeMarshal(convertValToSlot, convertSlotToVal = undefined, options = {}) {
    const { marshalName = 'marshal' } = options;

    function toCapData(root) {
      const slots = [];
      // value -> index (identity) and slot string -> index. Most bodies carry no slot or one
      // or two, and two Maps cost more than encoding a small message: while there are fewer
      // than 8 values they are found by a linear scan of `vals` (index i has slot
      // valSlot[i]) and of `slots`; from then on by Maps. Same answers either way.
      let vals;
      let valSlot;
      let valIndex;
      let slotIndex;
      const indexFor = val => {
        if (valIndex !== undefined) {
          const known = valIndex.get(val);
          if (known !== undefined) return known;
        } else if (vals !== undefined) {
          for (let i = 0; i < vals.length; i += 1) if (vals[i] === val) return valSlot[i];
        }
        const slot = convertValToSlot(val);
        if (typeof slot !== 'string') throw TypeError(`${marshalName}: bad slot for value`);
        let index;
        if (slotIndex !== undefined) {
          index = slotIndex.get(slot);
        } else {
          for (let i = 0; i < slots.length; i += 1) {
            if (slots[i] === slot) {
              index = i;
              break;
            }
          }
        }
        if (index === undefined) {
          index = slots.length;
          slots[index] = slot;
          if (slotIndex !== undefined) slotIndex.set(slot, index);
        }
        if (valIndex !== undefined) {
          valIndex.set(val, index);
        } else {
          if (vals === undefined) {
            vals = [];
            valSlot = [];
          }
          vals[vals.length] = val;
          valSlot[valSlot.length] = index;
          if (vals.length >= 8) {
            valIndex = new Map();
            for (let i = 0; i < vals.length; i += 1) valIndex.set(vals[i], valSlot[i]);
            slotIndex = new Map();
            for (let i = 0; i < slots.length; i += 1) slotIndex.set(slots[i], i);
          }
        }
        return index;
      };
      // Containers being encoded (cycle check): the current nesting path, usually short.
      const inProgress = [];
      const encode = val => {
        const style = passStyleOf(val);
        switch (style) {
          case 'null':
          case 'boolean':
            return val;
          case 'string':
            return startsSpecial(val) ? `!${val}` : val;
          case 'undefined':
            return '#undefined';
          case 'number':
            if (Number.isNaN(val)) return '#NaN';
            if (val === Infinity) return '#Infinity';
            if (val === -Infinity) return '#-Infinity';
            return is(val, -0) ? 0 : val;
          case 'bigint':
            return val < 0n ? String(val) : `+${val}`;
          case 'symbol':
            return `%${nameForPassableSymbol(val)}`;
          case 'copyArray':
          case 'copyRecord':
          case 'tagged': {
            if (inProgress.includes(val)) throw TypeError(`${marshalName}: cyclic data`);
            inProgress[inProgress.length] = val;
            let out;
            if (style === 'copyArray') {
              out = [];
              for (let i = 0; i < val.length; i += 1) out[i] = encode(val[i]);
            } else if (style === 'copyRecord') {
              const names = ownKeys(val).sort();
              out = fromEntries(names.map(n => [encode(n), encode(val[n])]));
            } else {
              out = { '#tag': encode(getTag(val)), payload: encode(val.payload) };
            }
            inProgress.pop();
            return out;
          }
          case 'remotable': {
            const iface = getInterfaceOf(val);
            const index = indexFor(val);
            return iface === undefined ? `$${index}` : `$${index}.${iface}`;
          }
          case 'promise':
            return `&${indexFor(val)}`;
          case 'error':
            return encodeError(val);
          default:
            throw TypeError(`${marshalName}: unexpected pass style ${style}`);
        }
      };
      const encodeError = err => {
        const name = typeof err.name === 'string' && errorConstructors.has(err.name)
          ? err.name
          : 'Error';
        const message = typeof err.message === 'string' ? err.message : String(err.message);
        return { '#error': startsSpecial(message) ? `!${message}` : message, name };
      };
      const encoded = encode(root);
      return freeze({ body: `#${JSON.stringify(encoded)}`, slots: freeze(slots) });
    }

    function fromCapData(capData) {
      if (typeof capData !== 'object' || capData === null) {
        throw TypeError(`${marshalName}: capdata must be an object`);
      }
      const { body, slots } = capData;
      if (typeof body !== 'string' || !body.startsWith('#')) {
        throw TypeError(`${marshalName}: unsupported body format: ${String(body).slice(0, 20)}`);
      }
      if (!isArray(slots)) throw TypeError(`${marshalName}: slots must be an array`);
      const vals = slots.length === 0 ? undefined : new Map(); // index -> value
      const slotVal = (index, iface) => {
        if (!(index >= 0 && index < slots.length)) {
          throw RangeError(`${marshalName}: slot index ${index} out of range`);
        }
        if (!vals.has(index)) {
          if (!convertSlotToVal) throw TypeError(`${marshalName}: slots are not supported here`);
          vals.set(index, convertSlotToVal(slots[index], iface));
        }
        return vals.get(index);
      };
      // "$12.iface" or "&3": [slot index, interface or undefined]. The index is the digits
      // after the sigil up to the first '.', without leading zeros (as the RegExp
      // /^(0|[1-9][0-9]*)$/), read by hand: a RegExp test and a slice per slot reference
      // showed in the unserialize profile.
      const parseSlotRef = (s, withIface) => {
        const dot = s.indexOf('.');
        const end = dot < 0 ? s.length : dot;
        let ok = end > 1 && !(end > 2 && s.charCodeAt(1) === 48);
        let index = 0;
        for (let i = 1; ok && i < end; i += 1) {
          const c = s.charCodeAt(i);
          if (c < 48 || c > 57) ok = false;
          else index = index * 10 + (c - 48);
        }
        if (!ok) throw SyntaxError(`${marshalName}: bad slot reference ${s}`);
        if (!withIface && dot >= 0) throw SyntaxError(`${marshalName}: bad promise ref ${s}`);
        // Beyond 15 digits the sum above may round differently from Number().
        if (end > 16) index = Number(s.slice(1, end));
        return [index, dot < 0 ? undefined : s.slice(dot + 1)];
      };
      const decode = enc => {
        switch (typeof enc) {
          case 'boolean':
          case 'number':
            return enc;
          case 'string': {
            if (!startsSpecial(enc)) return enc;
            const c = enc.charAt(0);
            switch (c) {
              case '!':
                return enc.slice(1);
              case '%':
                return passableSymbolForName(enc.slice(1));
              case '#':
                switch (enc) {
                  case '#undefined': return undefined;
                  case '#NaN': return NaN;
                  case '#Infinity': return Infinity;
                  case '#-Infinity': return -Infinity;
                  default: throw TypeError(`${marshalName}: unknown constant ${enc}`);
                }
              case '+':
              case '-':
                if (!/^[+-](0|[1-9][0-9]*)$/.test(enc)) {
                  throw SyntaxError(`${marshalName}: bad bigint ${enc}`);
                }
                return BigInt(enc.slice(c === '+' ? 1 : 0));
              case '$': {
                const ref = parseSlotRef(enc, true);
                const index = ref[0];
                const v = slotVal(index, ref[1]);
                if (passStyleOf(v) !== 'remotable') {
                  throw TypeError(`${marshalName}: slot ${index} is not a remotable`);
                }
                return v;
              }
              case '&': {
                const index = parseSlotRef(enc, false)[0];
                const v = slotVal(index, undefined);
                if (passStyleOf(v) !== 'promise') {
                  throw TypeError(`${marshalName}: slot ${index} is not a promise`);
                }
                return v;
              }
              default:
                throw TypeError(`${marshalName}: reserved special character in ${enc}`);
            }
          }
          case 'object': {
            if (enc === null) return null;
            // Containers are frozen as they are built (their other parts are primitives,
            // containers frozen the same way, errors and tagged records hardened where they are
            // made, and slot values, hardened below once the whole body decoded): the same
            // result as harden() of the whole, without a second walk over it.
            if (isArray(enc)) return hardenFresh(enc.map(decode));
            if (hasOwn(enc, '#tag')) {
              const keys = ownKeys(enc);
              if (keys.length !== 2 || !hasOwn(enc, 'payload') || typeof enc['#tag'] !== 'string') {
                throw TypeError(`${marshalName}: malformed tagged record`);
              }
              return makeTagged(decode(enc['#tag']), decode(enc.payload));
            }
            if (hasOwn(enc, '#error')) {
              const message = decode(enc['#error']);
              const name = hasOwn(enc, 'name') ? decode(enc.name) : 'Error';
              if (typeof message !== 'string') throw TypeError(`${marshalName}: bad error`);
              const Ctor = errorConstructors.get(name) || Error;
              const err = Ctor === AggregateError ? new Ctor([], message) : new Ctor(message);
              return harden(err);
            }
            const out = {};
            const keys = ownKeys(enc);
            for (let i = 0; i < keys.length; i += 1) {
              const key = keys[i];
              if (key.startsWith('#')) {
                throw TypeError(`${marshalName}: unrecognized record type ${key}`);
              }
              const name = decode(key);
              if (typeof name !== 'string') throw TypeError(`${marshalName}: bad property name`);
              // defineProperty, so "__proto__" stays an ordinary key
              Object.defineProperty(out, name, {
                value: decode(enc[key]),
                enumerable: true,
                writable: true,
                configurable: true,
              });
            }
            return hardenFresh(out);
          }
          default:
            throw TypeError(`${marshalName}: unexpected encoding ${typeof enc}`);
        }
      };
      const result = decode(JSON.parse(body.slice(1)));
      if (vals !== undefined) vals.forEach(v => harden(v)); // in first-use order
      return harden(result); // at once unless a primitive or made elsewhere
    }

    return harden({
      toCapData,
      fromCapData,
      serialize: toCapData,
      unserialize: fromCapData,
    });
  }

  ns.marshal = freeze({ makeMarshal, startsSpecial });
});
