// harden.js: the `harden` SES adopts (evaluated in each vat realm before SES).
//
// SES's makeHardener() uses a pre-existing globalThis.harden (as it does for XS's native one)
// instead of its own, and lockdown() then hardens every intrinsic with it and publishes it as
// the global `harden`. This is the same algorithm as SES's make-hardener.js (ses 2.3): the
// transitive closure over prototypes and own property values and accessors is frozen (typed
// arrays: non-index properties made non-writable and non-configurable, the rest not
// extensible), and only when all of it is frozen is it recorded in a private WeakSet, so a
// throw part way leaves nothing marked hardened. Same traversal order, same proxy trap calls.
// What differs is speed on SpiderMonkey: SES's version pays ~0.9 us per call even for an
// already hardened object (a Set, six closures and uncurried intrinsics per call) and ~2.6 us
// for a fresh empty object; this one returns at once for primitives and hardened objects and
// uses direct method calls on private instances.
//
// It runs before SES and vat code, so the intrinsics it captures are the original ones; the
// methods it calls on its own Set/WeakSet instances live on prototypes lockdown() freezes.
// On SpiderMonkey an Error's `stack` is an accessor on Error.prototype, not an own property,
// so SES's V8-only own-stack repair does not apply (checked below).
//
// The script's completion value is a frozen record for the host's runtime scripts only (the
// host puts it in the private runtime namespace; vat code cannot reach it):
//   hardenFresh(obj)  freezes `obj` and records it as hardened without walking it. Only for
//                     plain objects/arrays the runtime has just made, whose prototype and own
//                     property values are all hardened already (marshal's decoder builds its
//                     result bottom-up this way; harden() of the root then returns at once).
//   hardenFreshArray(arr)  harden(arr) for a genuine array the runtime just made (rest
//                     arguments), elements not yet hardened: the same walk, minus asking the
//                     engine for the array's property descriptors.
// It is undefined when SES's own harden is used (see below).
(function installHarden() {
  'use strict';

  const { freeze, getOwnPropertyDescriptor, getOwnPropertyDescriptors, getPrototypeOf,
    defineProperty, preventExtensions, hasOwn } = Object;
  const { ownKeys, apply } = Reflect;
  const { isView } = ArrayBuffer;
  const { isInteger } = Number;
  const StringCtor = String;

  if (getOwnPropertyDescriptor(Error('probe'), 'stack') !== undefined) {
    // An engine whose errors carry an own stack accessor needs SES's repair: let SES harden.
    return;
  }

  const typedArrayTagGetter = getOwnPropertyDescriptor(
    getPrototypeOf(Uint8Array.prototype),
    Symbol.toStringTag,
  ).get;
  // As SES: a typed array is whatever %TypedArray%.prototype[@@toStringTag] answers for (only
  // asked for ArrayBuffer views, the only objects it can answer for).
  const isTypedArray = obj => isView(obj) && apply(typedArrayTagGetter, obj, []) !== undefined;

  const isCanonicalIntegerIndexString = key => {
    const n = +StringCtor(key);
    return isInteger(n) && StringCtor(n) === key;
  };

  const freezeTypedArray = array => {
    preventExtensions(array);
    for (const name of ownKeys(array)) {
      const desc = getOwnPropertyDescriptor(array, name);
      if (!isCanonicalIntegerIndexString(name)) {
        defineProperty(array, name, { ...desc, writable: false, configurable: false });
      }
    }
  };

  // The record of hardened objects. A private field stamped on the object (the constructor
  // return trick adds it to any object, frozen ones and proxies included, and only this
  // closure can add or test it) costs ~0.2 us where a WeakSet.add of a fresh object costs
  // ~0.9 us on SpiderMonkey 102, and it leaves the GC no weak table to sweep. Engines that
  // refuse private fields on non-extensible objects get the WeakSet.
  class Stamper {
    constructor(obj) {
      return obj;
    }
  }
  class HardenedStamp extends Stamper {
    #hardened = true;
    static mark(obj) {
      if (!(#hardened in obj)) new HardenedStamp(obj); // eslint-disable-line no-new
    }
    static has(obj) {
      return #hardened in obj;
    }
  }
  let isHardened = HardenedStamp.has;
  let markHardened = HardenedStamp.mark;
  try {
    const probe = freeze({});
    markHardened(probe);
    if (!isHardened(probe)) throw TypeError('stamp not recorded');
  } catch (e) {
    const hardened = new WeakSet();
    isHardened = obj => hardened.has(obj);
    markHardened = obj => {
      hardened.add(obj);
    };
  }

  // The traversal of harden(root), root an unhardened object. With `freshArray`, the caller
  // vouches that root is a genuine array it just made (e.g. rest arguments): its own
  // properties are the data elements 0..length-1 and `length`, so they are read directly
  // instead of through getOwnPropertyDescriptors: same objects, same order, no proxy traps
  // either way.
  const walk = (root, freshArray) => {
    // The objects to freeze, in SES's order (a Set's insertion order). Deduplicated by a
    // linear scan while small (most hardens are one or a few objects), then by a Set.
    const queue = [root];
    let seen;
    const enqueue = val => {
      if ((typeof val !== 'object' || val === null) && typeof val !== 'function') return;
      if (isHardened(val)) return;
      if (seen === undefined) {
        for (let i = 0; i < queue.length; i += 1) if (queue[i] === val) return;
        queue[queue.length] = val;
        if (queue.length > 16) seen = new Set(queue);
      } else if (!seen.has(val)) {
        seen.add(val);
        queue[queue.length] = val;
      }
    };
    let i = 0;
    if (freshArray) {
      freeze(root);
      enqueue(getPrototypeOf(root));
      for (let j = 0; j < root.length; j += 1) enqueue(root[j]);
      i = 1;
    }
    for (; i < queue.length; i += 1) {
      const obj = queue[i];
      if (isTypedArray(obj)) freezeTypedArray(obj);
      else freeze(obj);
      const descs = getOwnPropertyDescriptors(obj);
      enqueue(getPrototypeOf(obj));
      const names = ownKeys(descs);
      for (let j = 0; j < names.length; j += 1) {
        const desc = descs[names[j]];
        if (hasOwn(desc, 'value')) {
          enqueue(desc.value);
        } else {
          enqueue(desc.get);
          enqueue(desc.set);
        }
      }
    }
    // A proxy trap run above may have hardened some of these already (markHardened skips them).
    for (let j = 0; j < queue.length; j += 1) markHardened(queue[j]);
    return root;
  };

  const harden = root => {
    if ((typeof root !== 'object' || root === null) && typeof root !== 'function') return root;
    if (isHardened(root)) return root;
    return walk(root, false);
  };

  defineProperty(globalThis, 'harden', {
    value: harden,
    writable: true,
    enumerable: false,
    configurable: true,
  });

  const hardenFresh = obj => {
    freeze(obj);
    markHardened(obj);
    return obj;
  };
  const hardenFreshArray = arr => (isHardened(arr) ? arr : walk(arr, true));
  return freeze({ hardenFresh, hardenFreshArray });
})();
