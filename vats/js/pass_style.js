// pass_style.js: what may cross a vat boundary, and how it is classified.
//
// Evaluated by the vat host as a classic script in each vat realm, after SES lockdown(); the
// completion value is an installer called with the runtime namespace `ns`. Nothing here touches
// globalThis. Our own implementation of the pass styles that @endo/pass-style defines:
//
//   null undefined boolean number bigint string symbol      primitives
//   copyArray copyRecord tagged                              hardened plain data
//   remotable   objects (or functions) made by Far()/Remotable(), and liveslots Presences
//   promise     native promises
//   error       Error instances
//
// Remotables are recorded in a WeakMap private to this realm; the alleged interface also shows
// as Symbol.toStringTag on a prototype inserted by Far(), as vat authors expect from endo.
(function installPassStyle(ns) {
  'use strict';
  // Captured at install time (after lockdown): vat code may replace the global `harden`.
  const { harden } = globalThis;
  // Freezes and records as hardened a fresh object whose prototype and property values are
  // hardened already (harden.js); harden() where the engine uses SES's own.
  const hardenFresh = ns.hardenInternals ? ns.hardenInternals.hardenFresh : harden;

  const {
    create,
    freeze,
    getOwnPropertyDescriptor,
    getOwnPropertyDescriptors,
    getPrototypeOf,
    isFrozen,
    setPrototypeOf,
    prototype: objectPrototype,
  } = Object;
  const { ownKeys, apply } = Reflect;
  const { isArray } = Array;
  const errorPrototype = Error.prototype;
  const promisePrototype = Promise.prototype;
  const arrayPrototype = Array.prototype;

  // remotable object -> interface string, e.g. "Alleged: counter"
  const remotableInterfaces = new WeakMap();
  // tagged records made by makeTagged()
  const taggedRecords = new WeakSet();

  const isObjectLike = v =>
    (typeof v === 'object' && v !== null) || typeof v === 'function';

  // The prototype of remotables (Far objects, Presences) of interface `iface`: hardened, holding
  // only Symbol.toStringTag, and shared by all remotables of that interface (one object per
  // remotable instead of two, and no harden() of a fresh prototype each time; a reap of many
  // dead Presences feels the difference). Sharing is visible only as prototype identity. The
  // cache holds at most 1,000 interfaces (later ones get a prototype each): bounded, and
  // filled in call order, so the same on every node.
  const remotableProtos = new Map();
  const remotableProtoFor = iface => {
    let proto = remotableProtos.get(iface);
    if (proto === undefined) {
      proto = harden(
        create(objectPrototype, { [Symbol.toStringTag]: { value: iface, enumerable: false } }),
      );
      if (remotableProtos.size < 1000) remotableProtos.set(iface, proto);
    }
    return proto;
  };

  // Registers `obj` as a remotable with interface `iface`. The object's own properties must all
  // be methods. It is hardened.
  function Remotable(iface = 'Remotable', props = undefined, obj = {}) {
    if (typeof iface !== 'string') {
      throw TypeError(`Remotable interface must be a string, not ${typeof iface}`);
    }
    if (props !== undefined) {
      throw TypeError('Remotable props are not supported');
    }
    if (!isObjectLike(obj)) throw TypeError('Remotable needs an object or function');
    if (remotableInterfaces.has(obj)) {
      throw TypeError(`already a remotable: ${remotableInterfaces.get(obj)}`);
    }
    if (isFrozen(obj)) {
      throw TypeError(`cannot make a frozen object remotable (${iface})`);
    }
    const keys = ownKeys(obj);
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[i];
      const desc = getOwnPropertyDescriptor(obj, key);
      if (typeof obj === 'function' && !desc.enumerable) continue;
      if (!('value' in desc) || typeof desc.value !== 'function') {
        throw TypeError(
          `Remotable ${iface}: property ${String(key)} must be a method (a function)`,
        );
      }
    }
    if (typeof obj === 'object') {
      const oldProto = getPrototypeOf(obj);
      if (oldProto !== objectPrototype && oldProto !== null) {
        throw TypeError(`Remotable ${iface}: must inherit from Object.prototype or null`);
      }
      // eslint-disable-next-line no-use-before-define
      setPrototypeOf(obj, oldProto === objectPrototype ? remotableProtoFor(iface) : harden(
        create(oldProto, { [Symbol.toStringTag]: { value: iface, enumerable: false } })));
    }
    harden(obj);
    remotableInterfaces.set(obj, iface);
    return obj;
  }

  // Far('name', {methods}) => remotable with interface "Alleged: name".
  function Far(farName, obj = {}) {
    if (typeof farName !== 'string') throw TypeError('Far name must be a string');
    return Remotable(`Alleged: ${farName}`, undefined, obj);
  }

  const getInterfaceOf = v => remotableInterfaces.get(v);

  function makeTagged(tag, payload) {
    if (typeof tag !== 'string') throw TypeError('tag must be a string');
    const t = create(objectPrototype, {
      [Symbol.toStringTag]: { value: tag, enumerable: false },
      payload: { value: payload, enumerable: true },
    });
    harden(t);
    taggedRecords.add(t);
    return t;
  }
  const getTag = tagged => tagged[Symbol.toStringTag];

  // Symbols: registered ones by their registry name, well-known ones as "@@name".
  const wellKnownSymbolNames = new Map();
  for (const name of ownKeys(Symbol)) {
    if (typeof Symbol[name] === 'symbol') wellKnownSymbolNames.set(Symbol[name], `@@${name}`);
  }
  const nameForPassableSymbol = sym => {
    const registered = Symbol.keyFor(sym);
    if (registered !== undefined) {
      return registered.startsWith('@@') ? `@@${registered}` : registered;
    }
    return wellKnownSymbolNames.get(sym);
  };
  const passableSymbolForName = name => {
    if (typeof name !== 'string') return undefined;
    if (name.startsWith('@@@@')) return Symbol.for(name.slice(2));
    if (name.startsWith('@@')) {
      const sym = Symbol[name.slice(2)];
      if (typeof sym !== 'symbol') throw TypeError(`unknown well-known symbol ${name}`);
      return sym;
    }
    return Symbol.for(name);
  };

  const isPromise = v => {
    if (typeof v !== 'object' || v === null) return false;
    return getPrototypeOf(v) === promisePrototype;
  };

  const isError = v => {
    if (typeof v !== 'object' || v === null) return false;
    for (let p = getPrototypeOf(v); p !== null; p = getPrototypeOf(p)) {
      if (p === errorPrototype) return true;
    }
    return false;
  };

  // Classifies one value; throws for anything not passable (shallow check: the encoder
  // recurses into containers).
  function passStyleOf(v) {
    switch (typeof v) {
      case 'undefined':
      case 'string':
      case 'boolean':
      case 'number':
      case 'bigint':
        return typeof v;
      case 'symbol':
        if (nameForPassableSymbol(v) === undefined) {
          throw TypeError('only registered or well-known symbols are passable');
        }
        return 'symbol';
      case 'function':
        if (remotableInterfaces.has(v)) return 'remotable';
        throw TypeError(`cannot pass a function that is not Far: ${v.name || '(anonymous)'}`);
      case 'object': {
        if (v === null) return 'null';
        if (remotableInterfaces.has(v)) return 'remotable';
        if (taggedRecords.has(v)) return 'tagged';
        if (isPromise(v)) return 'promise';
        if (isError(v)) return 'error';
        if (isArray(v)) {
          if (getPrototypeOf(v) !== arrayPrototype) throw TypeError('arrays must be plain');
          return 'copyArray';
        }
        const proto = getPrototypeOf(v);
        if (proto !== objectPrototype && proto !== null) {
          throw TypeError(`cannot pass non-plain object ${String(v[Symbol.toStringTag] || '')}`);
        }
        const keys = ownKeys(v);
        for (let i = 0; i < keys.length; i += 1) {
          const key = keys[i];
          if (typeof key !== 'string') throw TypeError('record keys must be strings');
          const desc = getOwnPropertyDescriptor(v, key);
          if (!('value' in desc)) throw TypeError(`record property ${key} is an accessor`);
          if (!desc.enumerable) throw TypeError(`record property ${key} is not enumerable`);
          if (typeof desc.value === 'function' && !remotableInterfaces.has(desc.value)) {
            throw TypeError(
              `Records cannot contain non-far functions; use Far() for objects with methods (property "${key}")`,
            );
          }
        }
        return 'copyRecord';
      }
      default:
        throw TypeError(`unknown typeof ${typeof v}`);
    }
  }

  const isPassable = v => {
    try {
      passStyleOf(v);
      return true;
    } catch (e) {
      return false;
    }
  };

  // Registers a liveslots Presence (an imported object) as a remotable with its interface.
  const makePresence = iface => {
    const presence = hardenFresh(create(remotableProtoFor(iface)));
    remotableInterfaces.set(presence, iface);
    return presence;
  };

  ns.passStyle = freeze({
    Far,
    Remotable,
    makeTagged,
    getTag,
    getInterfaceOf,
    passStyleOf,
    isPassable,
    isPromise,
    isError,
    nameForPassableSymbol,
    passableSymbolForName,
    makePresence,
    apply,
    getOwnPropertyDescriptors,
  });
});
