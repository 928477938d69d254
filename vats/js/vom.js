// vom.js: virtual and durable objects, vatstore-backed collections and baggage for liveslots
// (issue 15; the behaviour follows Agoric's liveslots as vats/README.md "Virtual objects" says).
//
// Installer for the runtime namespace (see pass_style.js): ns.vom = { makeVirtualObjectManager,
// encodeKey, decodeKey, M, matches }. liveslots.js makes one manager per vat and gives it the
// few table operations it needs (`L` below); the manager owns everything kept in the vatstore:
//
//   idCounters                      {"exportID":N,"collectionID":N,"promiseID":N}, the next value
//                                   of each counter (exports o+N, collections, promises p+N)
//   kindIDID, storeKindIDTable      the kind IDs of kind handles and of the 8 store types
//   baggageID, watcherTableID,      the stores startVat makes in a fresh vat (o+d6/1..3)
//   watchedPromiseTableID
//   vom.vkind.<K>.descriptor        {"kindID","tag"} of a virtual kind (diagnostic)
//   vom.dkind.<K>.descriptor        {"kindID","tag","unfaceted":true|"facets":[..],"stateShapeCapData"}
//   vom.dkind.<K>.nextID            next instance ID of a durable kind (written at each creation)
//   vom.<baseRef>                   {field: capdata} state of a virtual/durable object
//   vom.rc.<baseRef or o-N>         refcount from virtual data (absent = 0)
//   vom.es.<baseRef>                export status, one character per facet: r, s or n
//   vom.ir.<vref>|<c>               weak store c has <vref> as a key
//   vc.<c>.|schemata|nextOrdinal|entryCount, vc.<c>.|<vref> (ordinal), vc.<c>.<encodedKey>
//
// vrefs: o+v<K>/<I>[:<facet>] (virtual), o+d<K>/<I>[:<facet>] (durable), stores o+v<T>/<C> and
// o+d<T>/<C> (T from storeKindIDTable), kind handles o+d<kindIDID>/<K>.
//
// Determinism: state records are read at most once per delivery (a per-delivery cache) and
// written back, sorted, at the end of every delivery (flush()); deserializing a vref never
// touches the vatstore, so whether a Representative was collected does not change syscalls.
// Refcounts, export status, recognizers and collection entries are immediate syscalls, driven
// only by vat code or by bringOutYourDead.
(function installVom(ns) {
  'use strict';
  // Captured at install time (after lockdown): vat code may replace the global `harden`.
  const { harden } = globalThis;
  const { Remotable, Far, passStyleOf, makeTagged, getTag, getInterfaceOf,
    nameForPassableSymbol, passableSymbolForName } = ns.passStyle;
  const { freeze, defineProperty, getOwnPropertyNames, is } = Object;
  const { apply, ownKeys } = Reflect;

  // ---- key encoding: endo's encodePassable ("legacyOrdered") for scalar keys ---------------
  // Strings s<str>; numbers f<16 hex digits> (IEEE bits, sign bit flipped for positives, all
  // bits for negatives, so string order is numeric order); bigints p<~..><ndigits>:<digits> /
  // n<#..><complement of ndigits>:<ten's complement digits>; btrue/bfalse; null v;
  // undefined z; symbols y<name>; remotables r<ordinal, 10 digits>:<vref>.
  const numView = new DataView(new ArrayBuffer(8));
  const padHex8 = u => {
    const s = u.toString(16);
    return '00000000'.slice(s.length) + s;
  };
  function encodeNumber(n) {
    if (is(n, -0)) n = 0;
    if (Number.isNaN(n)) return 'ffff8000000000000';
    numView.setFloat64(0, n);
    let hi = numView.getUint32(0);
    let lo = numView.getUint32(4);
    if (n < 0) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    } else {
      hi = (hi ^ 0x80000000) >>> 0;
    }
    return `f${padHex8(hi)}${padHex8(lo)}`;
  }
  function decodeNumber(e) {
    if (!/^f[0-9a-f]{16}$/.test(e)) throw Error(`bad encoded number ${e}`);
    let hi = parseInt(e.slice(1, 9), 16);
    let lo = parseInt(e.slice(9, 17), 16);
    if (e[1] < '8') {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    } else {
      hi = (hi ^ 0x80000000) >>> 0;
    }
    numView.setUint32(0, hi);
    numView.setUint32(4, lo);
    return numView.getFloat64(0);
  }
  function encodeBigInt(n) {
    const abs = n < 0n ? -n : n;
    const nDigits = abs.toString().length;
    const lDigits = String(nDigits).length;
    if (n < 0n) {
      const count = String(10 ** lDigits - nDigits).padStart(lDigits, '0');
      const digits = (10n ** BigInt(nDigits) + n).toString().padStart(nDigits, '0');
      return `n${'#'.repeat(lDigits - 1)}${count}:${digits}`;
    }
    return `p${'~'.repeat(lDigits - 1)}${nDigits}:${abs}`;
  }
  function decodeBigInt(e) {
    const colon = e.indexOf(':');
    const digits = e.slice(colon + 1);
    if (colon < 2 || !/^[0-9]+$/.test(digits)) throw Error(`bad encoded bigint ${e}`);
    const v = BigInt(digits);
    return e[0] === 'p' ? v : v - 10n ** BigInt(digits.length);
  }
  const padOrdinal = n => {
    const s = String(n);
    return '0000000000'.slice(s.length) + s;
  };
  // `remotableVref(key)` gives the encoded form of a remotable key, or undefined.
  function encodeKey(key, remotableKey) {
    switch (typeof key) {
      case 'string':
        return `s${key}`;
      case 'number':
        return encodeNumber(key);
      case 'bigint':
        return encodeBigInt(key);
      case 'boolean':
        return key ? 'btrue' : 'bfalse';
      case 'undefined':
        return 'z';
      case 'symbol':
        return `y${nameForPassableSymbol(key)}`;
      default:
        if (key === null) return 'v';
        return remotableKey(key);
    }
  }
  function decodeKey(e, vrefToVal) {
    switch (e[0]) {
      case 's':
        return e.slice(1);
      case 'f':
        return decodeNumber(e);
      case 'p':
      case 'n':
        return decodeBigInt(e);
      case 'b':
        return e === 'btrue';
      case 'v':
        return null;
      case 'z':
        return undefined;
      case 'y':
        return passableSymbolForName(e.slice(1));
      case 'r':
        return vrefToVal(e.slice(e.indexOf(':') + 1));
      default:
        throw Error(`bad encoded key ${e}`);
    }
  }

  // ---- patterns (the subset of @endo/patterns stores need) ---------------------------------
  // Matchers are tagged records 'match:<kind>' as @endo/patterns makes them; anything else in a
  // pattern is a literal compared by value (remotables by identity).
  const M = harden({
    any: () => makeTagged('match:any', undefined),
    scalar: () => makeTagged('match:scalar', undefined),
    key: () => makeTagged('match:key', undefined),
    string: () => makeTagged('match:string', harden([])),
    number: () => makeTagged('match:kind', 'number'),
    bigint: () => makeTagged('match:kind', 'bigint'),
    boolean: () => makeTagged('match:kind', 'boolean'),
    symbol: () => makeTagged('match:kind', 'symbol'),
    record: () => makeTagged('match:kind', 'copyRecord'),
    array: () => makeTagged('match:kind', 'copyArray'),
    promise: () => makeTagged('match:kind', 'promise'),
    undefined: () => makeTagged('match:kind', 'undefined'),
    null: () => null,
    remotable: (label = undefined) =>
      makeTagged('match:remotable', harden(label === undefined ? {} : { label })),
    and: (...ps) => makeTagged('match:and', harden(ps)),
    or: (...ps) => makeTagged('match:or', harden(ps)),
    not: p => makeTagged('match:not', p),
    opt: p => makeTagged('match:or', harden([p, makeTagged('match:kind', 'undefined')])),
  });
  const isScalarStyle = s => s !== 'copyArray' && s !== 'copyRecord' && s !== 'tagged' &&
    s !== 'promise' && s !== 'error';
  function matches(specimen, patt) {
    const pStyle = passStyleOf(patt);
    if (pStyle === 'tagged') {
      const tag = getTag(patt);
      if (tag.startsWith('match:')) {
        const payload = patt.payload;
        switch (tag) {
          case 'match:any':
            return true;
          case 'match:scalar':
            return isScalarStyle(passStyleOf(specimen));
          case 'match:key':
            return passStyleOf(specimen) !== 'promise' && passStyleOf(specimen) !== 'error';
          case 'match:string':
            return typeof specimen === 'string';
          case 'match:kind': {
            const s = passStyleOf(specimen);
            return s === payload || (s === 'tagged' && getTag(specimen) === payload);
          }
          case 'match:remotable':
            return passStyleOf(specimen) === 'remotable';
          case 'match:and':
            return payload.every(p => matches(specimen, p));
          case 'match:or':
            return payload.some(p => matches(specimen, p));
          case 'match:not':
            return !matches(specimen, payload);
          default:
            throw Error(`unsupported pattern ${tag}`);
        }
      }
    }
    const sStyle = passStyleOf(specimen);
    switch (pStyle) {
      case 'copyArray':
        return sStyle === 'copyArray' && specimen.length === patt.length &&
          patt.every((p, i) => matches(specimen[i], p));
      case 'copyRecord': {
        if (sStyle !== 'copyRecord') return false;
        const pk = ownKeys(patt).sort();
        const sk = ownKeys(specimen).sort();
        return pk.length === sk.length && pk.every((k, i) => k === sk[i] &&
          matches(specimen[k], patt[k]));
      }
      case 'tagged':
        return sStyle === 'tagged' && getTag(specimen) === getTag(patt) &&
          matches(specimen.payload, patt.payload);
      default:
        return is(specimen, patt) || (specimen === 0 && patt === 0);
    }
  }

  const describeKey = k => {
    switch (typeof k) {
      case 'string':
        return JSON.stringify(k);
      case 'bigint':
        return `${k}n`;
      case 'symbol':
        return String(k);
      case 'object':
      case 'function':
        if (k === null) return 'null';
        return `[${getInterfaceOf(k) || 'object'}]`;
      default:
        return String(k);
    }
  };

  // ---- vref parsing -----------------------------------------------------------------------
  // o+v<K>/<I>[:<F>] and o+d<K>/<I>[:<F>]: {baseRef, kindID, id, facet, durable}; undefined for
  // any other vref.
  function parseVirtualVref(vref) {
    if (vref[0] !== 'o' || vref[1] !== '+' || (vref[2] !== 'v' && vref[2] !== 'd')) return undefined;
    const slash = vref.indexOf('/');
    if (slash < 0) return undefined;
    const colon = vref.indexOf(':', slash);
    const baseRef = colon < 0 ? vref : vref.slice(0, colon);
    return {
      baseRef,
      kindID: vref.slice(3, slash),
      id: baseRef.slice(slash + 1),
      facet: colon < 0 ? undefined : Number(vref.slice(colon + 1)),
      durable: vref[2] === 'd',
    };
  }
  const isVirtualVref = v => v[0] === 'o' && v[1] === '+' && (v[2] === 'v' || v[2] === 'd');
  const baseRefOf = v => {
    const c = v.indexOf(':');
    return c < 0 ? v : v.slice(0, c);
  };
  // Durable: imports, devices and o+d vrefs; never promises, o+v or o+N.
  const isDurableVref = v =>
    (v[0] === 'o' && v[1] === '-') || v[0] === 'd' || (v[0] === 'o' && v[1] === '+' && v[2] === 'd');

  const STORE_TYPES = [
    // name, durable, weak, isSet, default label, interface
    ['scalarMapStore', false, false, false, 'map', 'mapStore'],
    ['scalarWeakMapStore', false, true, false, 'weakMap', 'weakMapStore'],
    ['scalarSetStore', false, false, true, 'set', 'setStore'],
    ['scalarWeakSetStore', false, true, true, 'weakSet', 'weakSetStore'],
    ['scalarDurableMapStore', true, false, false, 'map', 'mapStore'],
    ['scalarDurableWeakMapStore', true, true, false, 'weakMap', 'weakMapStore'],
    ['scalarDurableSetStore', true, false, true, 'set', 'setStore'],
    ['scalarDurableWeakSetStore', true, true, true, 'weakSet', 'weakSetStore'],
  ];

  // L: { syscall, serialize(val) (vdata capdata; may allocate o+N vrefs), unserialize(capdata),
  //      vrefOf(val) (vdata: allocates for a new Remotable), slotVal(vref) (live object or
  //      undefined), hasSlot(vref), registerRep(baseRef, obj), setValToSlot(val, vref),
  //      convertSlotToVal(vref), possiblyRetired(vref), forgetRamRecognizers(vref) -> bool }
  function makeVirtualObjectManager(L) {
    const { syscall, ids } = L;
    let started = false;
    let wrote = false; // the VOM wrote the vatstore in this delivery
    // status.pending: this delivery used the VOM (wrote, or cached something), so the host
    // must call flush() at its end. Read by the host without running JS, so deliveries that
    // use no virtual object pay no computron for the check.
    const status = { pending: false };
    const vsGet = k => syscall.vatstoreGet(k);
    const vsSet = (k, v) => {
      wrote = true;
      status.pending = true;
      syscall.vatstoreSet(k, v);
    };
    const vsDelete = k => {
      wrote = true;
      status.pending = true;
      syscall.vatstoreDelete(k);
    };
    const requireStarted = what => {
      if (!started) throw Error(`VatData.${what}: not available before startVat (call it from buildRootObject or later)`);
    };

    // ---- counters ---------------------------------------------------------------------------
    // `ids` is liveslots' {exportID, collectionID, promiseID} (it allocates exports and
    // promises inline); idCounters holds what was last written.
    let savedIDs;
    const allocateExportID = () => {
      const id = ids.exportID;
      ids.exportID += 1;
      return id;
    };
    const allocateCollectionID = () => {
      const id = ids.collectionID;
      ids.collectionID += 1;
      return id;
    };

    // ---- refcounts (vdata pillar) ------------------------------------------------------------
    const possiblyDead = new Set(); // baseRefs and imports whose rc reached 0, etc.
    // o+N Remotables referenced from vdata: vref -> {val, count}; holds the object strongly.
    const remotablePins = new Map();
    // Imports that virtual data references or a weak store recognizes, or did during this
    // incarnation (loaded at startVat from the vom.rc.o- and vom.ir.o- keys), and our own
    // vrefs (Remotables, virtual objects' facets, stores) a weak store has had as a key: for
    // any other import or vref of ours the vatstore holds no vom.rc.o-/vom.ir key, so a reap
    // need not look (a reap of 10,000 plain Presences makes no vatstore syscall, and deleting
    // a virtual object no vatstoreGetNextKey, whose cost grows with the deletions LevelDB has
    // not compacted yet). Only grows; exact, since every such key is written here. (An
    // upgrade, issue 16, must also load the vom.ir.o+ keys an earlier incarnation wrote.)
    const vdataImports = new Set();
    const weakKeyExports = new Set();
    const rcKey = base => `vom.rc.${base}`;
    const getRC = base => {
      const t = vsGet(rcKey(base));
      return t === undefined ? 0 : Number(t);
    };
    function addReachable(vref) {
      if (vref[0] === 'd') return;
      if (vref[0] === 'o' && vref[1] === '-') vdataImports.add(vref);
      if (vref[0] === 'o' && (vref[1] === '-' || isVirtualVref(vref))) {
        const base = baseRefOf(vref);
        vsSet(rcKey(base), String(getRC(base) + 1));
        return;
      }
      if (vref[0] !== 'o') throw Error(`cannot hold ${vref} in virtual data`);
      const pin = remotablePins.get(vref);
      if (pin) pin.count += 1;
      else remotablePins.set(vref, { val: L.slotVal(vref), count: 1 });
    }
    // true when a RAM pin was released (a later GC may free more)
    function removeReachable(vref) {
      if (vref[0] === 'd') return false;
      if (vref[0] === 'o' && (vref[1] === '-' || isVirtualVref(vref))) {
        const base = baseRefOf(vref);
        const n = getRC(base);
        if (n <= 0) throw Error(`attempt to decref ${vref} below 0`);
        if (n === 1) {
          vsDelete(rcKey(base));
          possiblyDead.add(base);
        } else {
          vsSet(rcKey(base), String(n - 1));
        }
        return false;
      }
      const pin = remotablePins.get(vref);
      if (!pin) throw Error(`attempt to decref ${vref} below 0`);
      pin.count -= 1;
      if (pin.count === 0) remotablePins.delete(vref);
      return pin.count === 0;
    }
    // Old and new slot lists of one value: +1 for added vrefs, -1 for removed, sorted.
    function updateReferenceCounts(before, after) {
      const b = new Set(before);
      const a = new Set(after);
      const added = after.filter(v => !b.has(v)).sort();
      const removed = before.filter(v => !a.has(v)).sort();
      for (let i = 0; i < added.length; i += 1) addReachable(added[i]);
      for (let i = 0; i < removed.length; i += 1) removeReachable(removed[i]);
    }
    const checkDurable = (capdata, what) => {
      for (let i = 0; i < capdata.slots.length; i += 1) {
        if (!isDurableVref(capdata.slots[i])) {
          throw Error(`${what} is not durable: slot ${i} of ${capdata.body}`);
        }
      }
    };

    // ---- export status ------------------------------------------------------------------------
    const esKey = base => `vom.es.${base}`;
    function facetCountOf(base) {
      const p = parseVirtualVref(base);
      const kind = p && kinds.get(p.kindID); // eslint-disable-line no-use-before-define
      return kind && kind.facetNames ? kind.facetNames.length : 1;
    }
    // status: 'r' (reachable by the kernel), 's' (recognizable only) or 'n'. Returns the new
    // status string.
    function setExportStatus(vref, status) {
      const base = baseRefOf(vref);
      const p = parseVirtualVref(vref);
      const n = facetCountOf(base);
      const old = vsGet(esKey(base));
      let es;
      if (p.facet === undefined) {
        es = status;
      } else {
        const chars = (old || '').padEnd(n, 'n').split('');
        chars[p.facet] = status;
        es = chars.join('');
      }
      const live = /[rs]/.test(es);
      if (!live) {
        if (old !== undefined) vsDelete(esKey(base));
        return '';
      }
      if (es !== old) vsSet(esKey(base), es);
      return es;
    }
    const retainExported = vref => {
      setExportStatus(vref, 'r');
    };
    function dropExport(vref) {
      if (vsGet(esKey(baseRefOf(vref))) === undefined && !L.hasSlot(baseRefOf(vref))) return;
      const es = setExportStatus(vref, 's');
      const base = baseRefOf(vref);
      if (!es.includes('r') && getRC(base) === 0) possiblyDead.add(base);
    }
    function retireExport(vref) {
      if (vsGet(esKey(baseRefOf(vref))) === undefined) return;
      setExportStatus(vref, 'n');
    }

    // ---- kinds ----------------------------------------------------------------------------------
    const kinds = new Map(); // kindID -> kind record (virtual and durable kinds)
    const kindOrder = []; // kinds in definition order (flush order)
    const storeKindIDs = new Map(); // store kind ID -> store type record
    let storeKindIDTable; // name -> kind ID
    let kindIDID;
    const kindHandleToID = new Map(); // strong for the incarnation
    const kindIDToHandle = new Map();

    function validateBehavior(tag, behavior, multi) {
      if (typeof behavior !== 'object' || behavior === null) {
        throw Error(`invalid behavior specifier for ${tag}`);
      }
      const names = ownKeys(behavior);
      for (let i = 0; i < names.length; i += 1) {
        const v = behavior[names[i]];
        if (multi) {
          if (typeof v !== 'object' || v === null) throw Error(`invalid behavior specifier for ${tag}`);
          validateBehavior(tag, v, false);
        } else if (typeof v !== 'function') {
          if (typeof v === 'object' && v !== null) throw Error('Check failed');
          throw Error(`invalid behavior specifier for ${tag}`);
        }
      }
    }

    function newKind(kindID, tag, durable) {
      const kind = {
        kindID, tag, durable, defined: false, facetNames: undefined, behavior: undefined,
        init: undefined, options: {}, nextID: 1, cache: new Map(), contexts: new Map(),
        stateShape: undefined, stateShapeSlots: [],
      };
      kinds.set(kindID, kind);
      return kind;
    }

    // Per-delivery state cache: baseRef -> {record, values, dirty, deleted}.
    function stateEntry(kind, base) {
      let e = kind.cache.get(base);
      if (e === undefined) {
        const t = vsGet(`vom.${base}`);
        if (t === undefined) throw Error(`virtual object ${base} has no state (it was deleted)`);
        e = { record: JSON.parse(t), values: new Map(), dirty: false, deleted: false };
        kind.cache.set(base, e);
        status.pending = true;
      } else if (e.deleted) {
        throw Error(`virtual object ${base} was deleted`);
      }
      return e;
    }

    function serializeField(kind, prop, value) {
      if (kind.stateShape !== undefined) {
        if (!Object.prototype.hasOwnProperty.call(kind.stateShape, prop)) {
          throw Error('State must only have fields described by stateShape');
        }
        if (!matches(value, kind.stateShape[prop])) {
          throw Error(`value for "${prop}" does not match the stateShape of ${kind.tag}`);
        }
      }
      const capdata = L.serialize(harden(value));
      if (kind.durable) checkDurable(capdata, `value for "${prop}"`);
      return capdata;
    }

    function makeState(kind, base) {
      const e = stateEntry(kind, base);
      const state = {};
      const fields = ownKeys(e.record);
      for (let i = 0; i < fields.length; i += 1) {
        const prop = fields[i];
        defineProperty(state, prop, {
          enumerable: true,
          get: () => {
            const en = stateEntry(kind, base);
            if (!en.values.has(prop)) en.values.set(prop, L.unserialize(en.record[prop]));
            return en.values.get(prop);
          },
          set: value => {
            const en = stateEntry(kind, base);
            const capdata = serializeField(kind, prop, value);
            updateReferenceCounts(en.record[prop].slots, capdata.slots);
            en.record[prop] = capdata;
            en.values.set(prop, harden(value));
            en.dirty = true;
            wrote = true;
            status.pending = true;
          },
        });
      }
      return harden(state);
    }

    // The {state, self|facets} context of an instance, once per delivery.
    function contextOf(kind, base, selfOrCohort) {
      let ctx = kind.contexts.get(base);
      if (ctx === undefined) {
        const state = makeState(kind, base);
        ctx = kind.facetNames ? harden({ state, facets: selfOrCohort })
          : harden({ state, self: selfOrCohort });
        kind.contexts.set(base, ctx);
        status.pending = true;
      }
      return ctx;
    }

    function callMethod(kind, base, selfOrCohort, fn, args) {
      const ctx = contextOf(kind, base, selfOrCohort);
      if (kind.options.thisfulMethods) return apply(fn, ctx, args);
      return apply(fn, undefined, [ctx, ...args]);
    }

    function makeFacet(kind, base, iface, methods, holder) {
      const obj = {};
      const names = ownKeys(methods);
      for (let i = 0; i < names.length; i += 1) {
        const fn = methods[names[i]];
        obj[names[i]] = (...args) => callMethod(kind, base, holder.v, fn, args);
      }
      return Remotable(iface, undefined, obj);
    }

    // Builds and registers the Representative (or the cohort of facets) of `base`.
    function makeRepresentative(kind, base) {
      const holder = { v: undefined };
      if (!kind.facetNames) {
        const rep = makeFacet(kind, base, `Alleged: ${kind.tag}`, kind.behavior, holder);
        holder.v = rep;
        L.setValToSlot(rep, base);
        L.registerRep(base, rep);
        return rep;
      }
      const cohort = {};
      for (let i = 0; i < kind.facetNames.length; i += 1) {
        const name = kind.facetNames[i];
        const methods = kind.behavior[name] || {};
        const facet = makeFacet(kind, base, `Alleged: ${kind.tag} ${name}`, methods, holder);
        L.setValToSlot(facet, `${base}:${i}`);
        cohort[name] = facet;
      }
      harden(cohort);
      holder.v = cohort;
      L.registerRep(base, cohort);
      return cohort;
    }

    function makeMaker(kind) {
      return (...args) => {
        const id = kind.nextID;
        kind.nextID += 1;
        if (kind.durable) vsSet(`vom.dkind.${kind.kindID}.nextID`, String(kind.nextID));
        const base = `o+${kind.durable ? 'd' : 'v'}${kind.kindID}/${id}`;
        const initial = kind.init ? kind.init(...args) : {};
        if (typeof initial !== 'object' || initial === null) {
          throw Error(`initial data must be object, not ${initial === null ? 'null' : typeof initial}`);
        }
        if (kind.stateShape !== undefined) {
          const want = ownKeys(kind.stateShape).sort().join(',');
          const got = getOwnPropertyNames(initial).sort().join(',');
          if (want !== got) throw Error('State must only have fields described by stateShape');
        }
        const record = {};
        const props = getOwnPropertyNames(initial);
        for (let i = 0; i < props.length; i += 1) {
          const capdata = serializeField(kind, props[i], initial[props[i]]);
          for (let j = 0; j < capdata.slots.length; j += 1) addReachable(capdata.slots[j]);
          record[props[i]] = capdata;
        }
        kind.cache.set(base, { record, values: new Map(), dirty: true, deleted: false });
        wrote = true;
        status.pending = true;
        const rep = makeRepresentative(kind, base);
        if (kind.options.finish) kind.options.finish(contextOf(kind, base, rep));
        return rep;
      };
    }

    function applyOptions(kind, options) {
      const { receiveAmplifier, receiveInstanceTester, interfaceGuard, interfaceGuardKit } = options;
      if (receiveAmplifier !== undefined) {
        if (!kind.facetNames) throw Error(`receiveAmplifier only works with multi-facet kinds (${kind.tag})`);
        receiveAmplifier(facet => {
          const vref = L.vrefOfExisting(facet);
          const p = vref && parseVirtualVref(vref);
          if (!p || p.kindID !== kind.kindID || p.facet === undefined) {
            throw Error(`not a facet of ${kind.tag}`);
          }
          return cohortOf(kind, p.baseRef); // eslint-disable-line no-use-before-define
        });
      }
      if (receiveInstanceTester !== undefined) {
        receiveInstanceTester((obj, facetName = undefined) => {
          const vref = L.vrefOfExisting(obj);
          const p = vref && parseVirtualVref(vref);
          if (!p || p.kindID !== kind.kindID) return false;
          if (facetName === undefined) return true;
          return kind.facetNames !== undefined && kind.facetNames[p.facet] === facetName;
        });
      }
      if (interfaceGuard !== undefined && kind.facetNames) throw Error('interfaceGuard is for single-facet kinds');
      if (interfaceGuardKit !== undefined && !kind.facetNames) throw Error('interfaceGuardKit is for multi-facet kinds');
    }

    function cohortOf(kind, base) {
      const live = L.slotVal(base);
      return live !== undefined ? live : makeRepresentative(kind, base);
    }

    function defineKindInternal(tag, init, behavior, options, multi) {
      if (typeof tag !== 'string') throw TypeError('kind tag must be a string');
      if (init !== undefined && typeof init !== 'function') throw TypeError(`init for ${tag} must be a function`);
      validateBehavior(tag, behavior, multi);
      const kindID = String(allocateExportID());
      vsSet(`vom.vkind.${kindID}.descriptor`, JSON.stringify({ kindID, tag }));
      const kind = newKind(kindID, tag, false);
      kind.init = init;
      kind.behavior = behavior;
      kind.options = options;
      if (multi) {
        kind.facetNames = ownKeys(behavior).sort();
        if (kind.facetNames.length < 2) throw Error('A multi-facet object must have multiple facets');
      }
      if (options.stateShape !== undefined) kind.stateShape = options.stateShape;
      applyOptions(kind, options);
      kind.defined = true;
      kindOrder.push(kind);
      return makeMaker(kind);
    }

    function makeKindHandle(tag) {
      requireStarted('makeKindHandle');
      if (typeof tag !== 'string') throw TypeError('kind tag must be a string');
      const kindID = String(allocateExportID());
      vsSet(`vom.dkind.${kindID}.descriptor`, JSON.stringify({ kindID, tag }));
      vsSet(`vom.dkind.${kindID}.nextID`, '1');
      const kind = newKind(kindID, tag, true);
      kind.descriptor = { kindID, tag };
      return registerKindHandle(kindID); // eslint-disable-line no-use-before-define
    }
    function registerKindHandle(kindID) {
      const handle = Far('kind', {});
      kindHandleToID.set(handle, kindID);
      kindIDToHandle.set(kindID, handle);
      const vref = `o+d${kindIDID}/${kindID}`;
      L.setValToSlot(handle, vref);
      L.registerRep(vref, handle);
      return handle;
    }
    // A kind handle named by vref that this incarnation has not made (after an upgrade).
    function reanimateKindHandle(kindID) {
      const t = vsGet(`vom.dkind.${kindID}.descriptor`);
      if (t === undefined) throw Error(`no kind handle o+d${kindIDID}/${kindID}`);
      const descriptor = JSON.parse(t);
      const kind = newKind(kindID, descriptor.tag, true);
      kind.descriptor = descriptor;
      kind.nextID = Number(vsGet(`vom.dkind.${kindID}.nextID`));
      return registerKindHandle(kindID);
    }

    function defineDurableKindInternal(handle, init, behavior, options, multi) {
      const kindID = kindHandleToID.get(handle);
      if (kindID === undefined) throw Error(`unknown handle ${describeKey(handle)}`);
      const kind = kinds.get(kindID);
      const { tag } = kind;
      if (kind.defined) throw Error(`redefinition of durable kind ${tag}`);
      if (init !== undefined && typeof init !== 'function') throw TypeError(`init for ${tag} must be a function`);
      validateBehavior(tag, behavior, multi);
      const d = kind.descriptor;
      const names = multi ? ownKeys(behavior).sort() : undefined;
      if (multi) {
        if (d.unfaceted) throw Error(`defineDurableKindMulti called for unfaceted KindHandle ${tag}`);
        if (names.length < 2) throw Error('A multi-facet object must have multiple facets');
        let facets = names;
        if (d.facets) {
          for (let i = 0; i < d.facets.length; i += 1) {
            if (!names.includes(d.facets[i])) {
              throw Error(`durable kind "${tag}" facets (${names.join(',')}) is missing ${d.facets[i]} from original definition (${d.facets.join(',')})`);
            }
          }
          facets = [...d.facets, ...names.filter(n => !d.facets.includes(n))];
        }
        kind.facetNames = facets;
      } else if (d.facets) {
        throw Error(`defineDurableKind called for faceted KindHandle ${tag}`);
      }
      const shapeCap = L.serialize(harden(options.stateShape));
      checkDurable(shapeCap, 'stateShape');
      if (d.stateShapeCapData !== undefined && !options.allowStateShapeChanges &&
        (d.stateShapeCapData.body !== shapeCap.body ||
          d.stateShapeCapData.slots.join(',') !== shapeCap.slots.join(','))) {
        throw Error(`durable Kind stateShape mismatch (${tag})`);
      }
      updateReferenceCounts(d.stateShapeCapData ? d.stateShapeCapData.slots : [], shapeCap.slots);
      const next = { kindID, tag };
      if (multi) next.facets = kind.facetNames;
      else next.unfaceted = true;
      next.stateShapeCapData = { body: shapeCap.body, slots: [...shapeCap.slots] };
      kind.descriptor = next;
      vsSet(`vom.dkind.${kindID}.descriptor`, JSON.stringify(next));
      kind.init = init;
      kind.behavior = behavior;
      kind.options = options;
      if (options.stateShape !== undefined) kind.stateShape = options.stateShape;
      applyOptions(kind, options);
      kind.defined = true;
      kindOrder.push(kind);
      return makeMaker(kind);
    }

    // ---- collections ----------------------------------------------------------------------------
    const schemaCache = new Map(); // collectionID -> {label, keyShape, valueShape} (per delivery)
    const iterGen = new Map(); // collectionID -> number of inits (concurrent-modification check)
    const prefixOf = c => `vc.${c}.`;
    function schemaOf(c) {
      let s = schemaCache.get(c);
      if (s === undefined) {
        const t = vsGet(`${prefixOf(c)}|schemata`);
        if (t === undefined) throw Error(`collection ${c} was deleted`);
        s = L.unserialize(JSON.parse(t));
        schemaCache.set(c, s);
        status.pending = true;
      }
      return s;
    }

    function makeCollectionMethods(c, type) {
      const prefix = prefixOf(c);
      const { durable, weak, isSet } = type;
      const label = () => schemaOf(c).label;
      const keyOK = key => {
        let style;
        try {
          style = passStyleOf(key);
        } catch (e) {
          return false;
        }
        if (!isScalarStyle(style)) return false;
        const { keyShape } = schemaOf(c);
        return keyShape === undefined || matches(key, keyShape);
      };
      const assertKey = key => {
        if (!keyOK(key)) throw Error(`invalid key type for collection ${JSON.stringify(label())}`);
      };
      // Encoded key, or undefined for a remotable that has no ordinal here (unless `assign`).
      const encode = (key, assign) =>
        encodeKey(key, k => {
          const vref = L.vrefOf(k);
          let ord = vsGet(`${prefix}|${vref}`);
          if (ord === undefined) {
            if (!assign) return undefined;
            const next = Number(vsGet(`${prefix}|nextOrdinal`));
            vsSet(`${prefix}|nextOrdinal`, String(next + 1));
            ord = String(next);
            vsSet(`${prefix}|${vref}`, ord);
          }
          return `r${padOrdinal(ord)}:${vref}`;
        });
      const vrefOfEncoded = e => (e[0] === 'r' ? e.slice(e.indexOf(':') + 1) : undefined);
      const decode = e => decodeKey(e, v => L.convertSlotToVal(v));
      const getEntry = key => {
        if (!keyOK(key)) return undefined;
        const e = encode(key, false);
        if (e === undefined) return undefined;
        const t = vsGet(prefix + e);
        return t === undefined ? undefined : [e, t];
      };
      const notFound = key =>
        Error(`key ${describeKey(key)} not found in collection ${JSON.stringify(label())}`);
      const checkValue = value => {
        const { valueShape } = schemaOf(c);
        if (valueShape !== undefined && !matches(value, valueShape)) {
          throw Error(`invalid value type for collection ${JSON.stringify(label())}`);
        }
        const capdata = L.serialize(harden(value));
        if (durable) checkDurable(capdata, 'value');
        return capdata;
      };
      const bumpCount = delta => {
        if (weak) return;
        const k = `${prefix}|entryCount`;
        vsSet(k, String(Number(vsGet(k)) + delta));
      };

      function has(key) {
        return getEntry(key) !== undefined;
      }
      function get(key) {
        const entry = getEntry(key);
        if (entry === undefined) throw notFound(key);
        return L.unserialize(JSON.parse(entry[1]));
      }
      function init(key, value) {
        assertKey(key);
        if (getEntry(key) !== undefined) {
          throw Error(`key ${describeKey(key)} already registered in collection ${JSON.stringify(label())}`);
        }
        const capdata = checkValue(isSet ? null : value);
        if (typeof key === 'object' || typeof key === 'function') {
          if (durable && !isDurableVref(L.vrefOf(key))) {
            throw Error(`key (${describeKey(key)}) is not durable in ${JSON.stringify(label())}`);
          }
        }
        const e = encode(key, true);
        if (e.length >= 220) throw Error('key too large');
        const keyVref = vrefOfEncoded(e);
        if (keyVref !== undefined) {
          if (weak) {
            if (keyVref[1] === '-') vdataImports.add(keyVref);
            else weakKeyExports.add(keyVref);
            vsSet(`vom.ir.${keyVref}|${c}`, '1');
          } else {
            addReachable(keyVref);
          }
        }
        for (let i = 0; i < capdata.slots.length; i += 1) addReachable(capdata.slots[i]);
        vsSet(prefix + e, JSON.stringify(capdata));
        bumpCount(1);
        iterGen.set(c, (iterGen.get(c) || 0) + 1);
      }
      function set(key, value) {
        const entry = getEntry(key);
        if (entry === undefined) throw notFound(key);
        const capdata = checkValue(value);
        updateReferenceCounts(JSON.parse(entry[1]).slots, capdata.slots);
        vsSet(prefix + entry[0], JSON.stringify(capdata));
      }
      // Removes one entry (encoded key, value text); true if a RAM pin was released.
      function deleteInternal(e, text) {
        let more = false;
        const { slots } = JSON.parse(text);
        vsDelete(prefix + e);
        for (let i = 0; i < slots.length; i += 1) more = removeReachable(slots[i]) || more;
        const keyVref = vrefOfEncoded(e);
        if (keyVref !== undefined) {
          vsDelete(`${prefix}|${keyVref}`);
          if (weak) {
            vsDelete(`vom.ir.${keyVref}|${c}`);
            if (keyVref[1] === '-') L.possiblyRetired(keyVref);
          } else {
            more = removeReachable(keyVref) || more;
          }
        }
        bumpCount(-1);
        return more;
      }
      function del(key) {
        const entry = getEntry(key);
        if (entry === undefined) throw notFound(key);
        deleteInternal(entry[0], entry[1]);
      }
      // [encodedKey, valueText] of every entry, in key order, read one at a time.
      function* scan(keyPatt, valuePatt) {
        const gen = iterGen.get(c) || 0;
        let k = prefix;
        for (;;) {
          k = syscall.vatstoreGetNextKey(k);
          if (k === undefined || !k.startsWith(prefix) || k[prefix.length] === '|') return;
          const e = k.slice(prefix.length);
          const text = vsGet(k);
          if (keyPatt !== undefined && !matches(decode(e), keyPatt)) continue;
          if (valuePatt !== undefined && !matches(L.unserialize(JSON.parse(text)), valuePatt)) continue;
          yield [e, text];
          if ((iterGen.get(c) || 0) !== gen) throw Error('keys in store cannot be added to during iteration');
        }
      }
      function* keys(kp, vp) {
        for (const [e] of scan(kp, vp)) yield decode(e);
      }
      function* values(kp, vp) {
        for (const [, t] of scan(kp, vp)) yield L.unserialize(JSON.parse(t));
      }
      function* entries(kp, vp) {
        for (const [e, t] of scan(kp, vp)) yield harden([decode(e), L.unserialize(JSON.parse(t))]);
      }
      function getSize(kp, vp) {
        if (kp === undefined && vp === undefined) return Number(vsGet(`${prefix}|entryCount`));
        let n = 0;
        for (const _ of scan(kp, vp)) n += 1; // eslint-disable-line no-unused-vars
        return n;
      }
      function clear(kp, vp) {
        const all = [...scan(kp, vp)];
        for (let i = 0; i < all.length; i += 1) deleteInternal(all[i][0], all[i][1]);
      }
      function snapshot(kp, vp) {
        const ks = [];
        const vs = [];
        for (const [e, t] of scan(kp, vp)) {
          ks.unshift(decode(e));
          vs.unshift(L.unserialize(JSON.parse(t)));
        }
        return isSet ? makeTagged('copySet', harden(ks))
          : makeTagged('copyMap', harden({ keys: ks, values: vs }));
      }
      function addAll(items) {
        if (isSet) {
          const list = passStyleOf(items) === 'tagged' ? items.payload : items;
          for (const k of list) if (!has(k)) init(k, null);
          return;
        }
        if (passStyleOf(items) === 'tagged') {
          const { keys: ks, values: vs } = items.payload;
          for (let i = 0; i < ks.length; i += 1) {
            if (has(ks[i])) set(ks[i], vs[i]);
            else init(ks[i], vs[i]);
          }
          return;
        }
        for (const [k, v] of items) {
          if (has(k)) set(k, v);
          else init(k, v);
        }
      }
      // Whole-collection deletion (GC): entries, schema refcounts, metadata.
      function deleteAll() {
        let more = false;
        const all = [...scan(undefined, undefined)];
        for (let i = 0; i < all.length; i += 1) more = deleteInternal(all[i][0], all[i][1]) || more;
        const t = vsGet(`${prefix}|schemata`);
        if (t !== undefined) {
          const { slots } = JSON.parse(t);
          for (let i = 0; i < slots.length; i += 1) more = removeReachable(slots[i]) || more;
        }
        const meta = [];
        let k = prefix;
        for (;;) {
          k = syscall.vatstoreGetNextKey(k);
          if (k === undefined || !k.startsWith(prefix)) break;
          meta.push(k);
        }
        for (let i = 0; i < meta.length; i += 1) vsDelete(meta[i]);
        schemaCache.delete(c);
        iterGen.delete(c);
        return more;
      }
      const methods = isSet
        ? { has, add: k => { if (!has(k)) init(k, null); }, delete: del, addAll }
        : { has, get, init, set, delete: del, addAll };
      if (!weak) {
        methods.keys = keys;
        methods.values = values;
        methods.getSize = getSize;
        methods.clear = clear;
        methods.snapshot = snapshot;
        if (!isSet) methods.entries = entries;
      }
      return { methods, deleteAll };
    }

    // Removes the entry of weak store c keyed by `vref` (ceaseRecognition); weak stores keep no
    // entry count. Returns true if a RAM pin was released.
    function forgetWeakKey(c, vref) {
      const prefix = prefixOf(c);
      const ord = vsGet(`${prefix}|${vref}`);
      if (ord === undefined) return false;
      const e = `r${padOrdinal(ord)}:${vref}`;
      const text = vsGet(prefix + e);
      let more = false;
      vsDelete(`${prefix}|${vref}`);
      if (text !== undefined) {
        vsDelete(prefix + e);
        const { slots } = JSON.parse(text);
        for (let i = 0; i < slots.length; i += 1) more = removeReachable(slots[i]) || more;
      }
      return more;
    }

    function makeStoreRep(c, type) {
      const ints = makeCollectionMethods(c, type);
      const methods = {};
      const names = ownKeys(ints.methods);
      for (let i = 0; i < names.length; i += 1) {
        const fn = ints.methods[names[i]];
        methods[names[i]] = (...args) => fn(...args);
      }
      const store = Far(type.iface, methods);
      const vref = `o+${type.durable ? 'd' : 'v'}${type.kindID}/${c}`;
      L.setValToSlot(store, vref);
      L.registerRep(vref, store);
      return store;
    }
    function makeStore(typeName, label, options = {}) {
      const type = storeKindIDs.get(String(storeKindIDTable[typeName]));
      const { keyShape, valueShape } = options;
      const lbl = label === undefined ? type.label : label;
      if (typeof lbl !== 'string') throw TypeError('store label must be a string');
      const c = allocateCollectionID();
      const prefix = prefixOf(c);
      const schemata = { label: lbl };
      if (keyShape !== undefined) schemata.keyShape = keyShape;
      if (valueShape !== undefined) schemata.valueShape = valueShape;
      const capdata = L.serialize(harden(schemata));
      if (type.durable) checkDurable(capdata, 'value');
      for (let i = 0; i < capdata.slots.length; i += 1) addReachable(capdata.slots[i]);
      vsSet(`${prefix}|nextOrdinal`, '1');
      if (!type.weak) vsSet(`${prefix}|entryCount`, '0');
      vsSet(`${prefix}|schemata`, JSON.stringify(capdata));
      return makeStoreRep(c, type);
    }
    const storeMaker = (plain, durableName) => (label = undefined, options = {}) => {
      requireStarted(plain);
      const durable = options && options.durable === true;
      return makeStore(durable ? durableName : plain, label, options || {});
    };

    // ---- deserialization: a vref of ours that has no live object -------------------------------
    function reanimate(vref) {
      const p = parseVirtualVref(vref);
      if (p === undefined) throw Error(`liveslots: bad virtual vref ${vref}`);
      const live = L.slotVal(p.baseRef);
      if (p.kindID === kindIDID) {
        return live || kindIDToHandle.get(p.id) || reanimateKindHandle(p.id);
      }
      const type = storeKindIDs.get(p.kindID);
      if (type !== undefined) return live || makeStoreRep(Number(p.id), type);
      const kind = kinds.get(p.kindID);
      if (kind === undefined || !kind.defined) {
        throw Error(`no kind info for ${p.kindID} (${vref}); check deserialize preceding kind definitions`);
      }
      const v = live || makeRepresentative(kind, p.baseRef);
      if (!kind.facetNames) return v;
      const name = kind.facetNames[p.facet];
      if (name === undefined) throw Error(`liveslots: no facet ${p.facet} in ${vref}`);
      return v[name];
    }

    // ---- GC ---------------------------------------------------------------------------------------
    const irPrefix = vref => `vom.ir.${vref}|`;
    // Whether the vatstore may hold vom.rc / vom.ir keys of this import or Remotable.
    const mayHaveKeys = vref => (vref[1] === '-' ? vdataImports.has(vref)
      : weakKeyExports.has(vref));
    // The vdata refcount of an import (0 without a read when it was never in virtual data).
    const importRC = vref => (vdataImports.has(vref) ? getRC(vref) : 0);
    function isVrefRecognizable(vref) {
      if (!mayHaveKeys(vref)) return false;
      const k = syscall.vatstoreGetNextKey(irPrefix(vref));
      return k !== undefined && k.startsWith(irPrefix(vref));
    }
    // Forgets every weak entry keyed by `vrefOrBase` (a deleted VO/store, a dead Remotable, a
    // retired import). Returns true if more GC may be possible.
    function ceaseRecognition(vrefOrBase) {
      const p = parseVirtualVref(vrefOrBase);
      if (p && p.facet === undefined) {
        const kind = kinds.get(p.kindID);
        if (kind && kind.facetNames) {
          let more = false;
          for (let i = 0; i < kind.facetNames.length; i += 1) {
            more = ceaseRecognition(`${vrefOrBase}:${i}`) || more;
          }
          return more;
        }
      }
      let more = L.forgetRamRecognizers(vrefOrBase);
      if (!mayHaveKeys(vrefOrBase)) return more;
      const prefix = irPrefix(vrefOrBase);
      const found = [];
      let k = prefix;
      for (;;) {
        k = syscall.vatstoreGetNextKey(k);
        if (k === undefined || !k.startsWith(prefix)) break;
        found.push(k);
      }
      for (let i = 0; i < found.length; i += 1) {
        vsDelete(found[i]);
        more = forgetWeakKey(Number(found[i].slice(prefix.length)), vrefOrBase) || more;
      }
      return more;
    }
    // Deletes an unreachable virtual object or store. Returns [moreGC, retirees].
    function deleteVirtualObject(base) {
      const p = parseVirtualVref(base);
      const retirees = [];
      const es = vsGet(esKey(base));
      let more = false;
      const type = storeKindIDs.get(p.kindID);
      const kind = kinds.get(p.kindID);
      if (es !== undefined) {
        if (kind && kind.facetNames) {
          for (let i = 0; i < es.length; i += 1) if (es[i] === 's') retirees.push(`${base}:${i}`);
        } else if (es === 's') {
          retirees.push(base);
        }
      }
      if (type !== undefined) {
        more = makeCollectionMethods(Number(p.id), type).deleteAll() || more;
      } else if (kind !== undefined && p.kindID !== kindIDID) {
        let e = kind.cache.get(base);
        if (e === undefined) {
          const t = vsGet(`vom.${base}`);
          e = { record: t === undefined ? {} : JSON.parse(t), values: new Map(), dirty: false, deleted: false };
          kind.cache.set(base, e);
        }
        if (!e.deleted) {
          const fields = ownKeys(e.record);
          for (let i = 0; i < fields.length; i += 1) {
            const { slots } = e.record[fields[i]];
            for (let j = 0; j < slots.length; j += 1) more = removeReachable(slots[j]) || more;
          }
          e.deleted = true;
          e.values = new Map();
          status.pending = true;
        }
      }
      if (vsGet(rcKey(base)) !== undefined) vsDelete(rcKey(base));
      if (es !== undefined) vsDelete(esKey(base));
      more = ceaseRecognition(base) || more;
      return [more, retirees];
    }

    // The three pillars of a virtual object or store (bringOutYourDead): RAM, vdata, export.
    function isReachable(base) {
      if (L.hasSlot(base)) return true;
      if (getRC(base) > 0) return true;
      const es = vsGet(esKey(base));
      return es !== undefined && es.includes('r');
    }

    // ---- startVat and the end-of-delivery flush ----------------------------------------------------
    function startVatBegin() {
      const saved = vsGet('idCounters');
      savedIDs = saved;
      if (saved !== undefined) {
        const s = JSON.parse(saved);
        for (const k of ['exportID', 'collectionID', 'promiseID']) if (typeof s[k] === 'number') ids[k] = s[k];
      }
      const kid = vsGet('kindIDID');
      if (kid === undefined) {
        kindIDID = String(allocateExportID());
        vsSet('kindIDID', kindIDID);
      } else {
        kindIDID = kid;
      }
      const table = vsGet('storeKindIDTable');
      if (table === undefined) {
        storeKindIDTable = {};
        for (let i = 0; i < STORE_TYPES.length; i += 1) storeKindIDTable[STORE_TYPES[i][0]] = allocateExportID();
      } else {
        storeKindIDTable = JSON.parse(table);
      }
      // Imports virtual data of an earlier incarnation references or recognizes.
      for (const prefix of ['vom.rc.o-', 'vom.ir.o-']) {
        for (let k = syscall.vatstoreGetNextKey(prefix); k !== undefined && k.startsWith(prefix);
          k = syscall.vatstoreGetNextKey(k)) {
          const bar = k.indexOf('|');
          vdataImports.add(k.slice(7, bar < 0 ? k.length : bar));
        }
      }
      vsSet('storeKindIDTable', JSON.stringify(storeKindIDTable));
      for (let i = 0; i < STORE_TYPES.length; i += 1) {
        const [name, durable, weak, isSet, label, iface] = STORE_TYPES[i];
        const kindID = String(storeKindIDTable[name]);
        storeKindIDs.set(kindID, { name, durable, weak, isSet, label, iface, kindID });
      }
      started = true;
    }
    function provideTable(idKey, label, keyShape) {
      const known = vsGet(idKey);
      if (known !== undefined) return L.convertSlotToVal(known);
      const store = makeStore('scalarDurableMapStore', label, { keyShape });
      const vref = L.vrefOf(store);
      addReachable(vref); // pinned for good
      vsSet(idKey, vref);
      return store;
    }
    // The three tables live as long as the vat (held here), like their vdata pins.
    const tables = [];
    function startVatTables() {
      tables.push(provideTable('baggageID', 'baggage', M.string()));
      tables.push(provideTable('watcherTableID', 'promiseWatcherByKind', M.scalar()));
      tables.push(provideTable('watchedPromiseTableID', 'watchedPromises',
        M.and(M.scalar(), M.string())));
      return tables[0];
    }

    // End of every delivery: idCounters (when changed and the delivery wrote virtual data, or
    // at startVat), then each kind's dirty state records in kind-definition order, sorted.
    function flush(isStartVat) {
      if (wrote || isStartVat) {
        const text = JSON.stringify({
          exportID: ids.exportID, collectionID: ids.collectionID, promiseID: ids.promiseID,
        });
        if (text !== savedIDs) {
          syscall.vatstoreSet('idCounters', text);
          savedIDs = text;
        }
      }
      schemaCache.clear();
      for (let i = 0; i < kindOrder.length; i += 1) {
        const kind = kindOrder[i];
        if (kind.cache.size > 0) {
          const dirty = [];
          for (const [base, e] of kind.cache) if (e.dirty || e.deleted) dirty.push(base);
          dirty.sort();
          for (let j = 0; j < dirty.length; j += 1) {
            const e = kind.cache.get(dirty[j]);
            if (e.deleted) syscall.vatstoreDelete(`vom.${dirty[j]}`);
            else syscall.vatstoreSet(`vom.${dirty[j]}`, JSON.stringify(e.record));
          }
          kind.cache.clear();
        }
        kind.contexts.clear();
      }
      // Kinds being deleted before their definition (records of reanimated, undefined kinds).
      for (const kind of kinds.values()) {
        if (!kind.defined && kind.cache.size > 0) {
          const dead = [...kind.cache.keys()].sort();
          for (let j = 0; j < dead.length; j += 1) {
            if (kind.cache.get(dead[j]).deleted) syscall.vatstoreDelete(`vom.${dead[j]}`);
          }
          kind.cache.clear();
        }
      }
      wrote = false;
      status.pending = false;
    }

    // ---- watched promises (VatData.watchPromise, providePromiseWatcher) ------------------------
    // The durable table 'watchedPromises' (tables[2]) maps a vpid to its watches, each
    // [watcher, ...args]; its entries count as virtual data (refcounts of watchers and args).
    // RAM keeps the watched promise of each vpid until it settles, and the vpid given to a
    // watched promise the kernel has never seen (a local one): such a vpid comes from the
    // promise counter like any other but is not exported (liveslots exports a promise when it
    // first goes into a syscall, under a vpid of its own).
    const promiseRegistrations = new Map(); // vpid -> promise
    const localVpids = new Map(); // local watched promise -> vpid
    function vpidOfWatched(p) {
      const local = localVpids.get(p);
      if (local !== undefined) return local;
      const known = L.vrefOfExisting(p);
      if (known !== undefined) return known;
      const vpid = `p+${ids.promiseID}`;
      ids.promiseID += 1;
      localVpids.set(p, vpid);
      return vpid;
    }
    // The watched promise of `vpid` settled: the entry goes, and each watcher runs in a turn of
    // its own, in the order of the watches. A rejection that a watcher has no onRejected for
    // is rethrown there (an unhandled rejection: the vat goes on, as in Agoric's liveslots).
    function settleWatched(vpid, p, value, fulfilled) {
      const table = tables[2];
      const watches = table.get(vpid);
      table.delete(vpid);
      promiseRegistrations.delete(vpid);
      localVpids.delete(p);
      for (let i = 0; i < watches.length; i += 1) {
        const watch = watches[i];
        const watcher = watch[0];
        const args = watch.slice(1);
        Promise.resolve().then(() => {
          if (fulfilled) {
            if (watcher.onFulfilled) watcher.onFulfilled(value, ...args);
          } else if (watcher.onRejected) {
            watcher.onRejected(value, ...args);
          } else {
            throw value;
          }
        }).catch(e => L.checkFatal(e));
      }
    }
    // Bad arguments are refused at the call (Agoric's liveslots checks them a turn later, where
    // a failure is only an unhandled rejection); the watch itself is recorded a turn later, as
    // there, so a promise that gets its vpid in the turn of the call is watched under it.
    function watchPromise(p, watcher, ...args) {
      requireStarted('watchPromise');
      let style;
      try {
        style = passStyleOf(p);
      } catch (e) {
        style = undefined;
      }
      if (style !== 'promise') throw TypeError('watchPromise only watches promises');
      const wref = L.vrefOfExisting(watcher);
      if (wref === undefined || !isVirtualVref(wref)) throw TypeError('promise watcher must be a virtual object');
      const { onFulfilled, onRejected } = watcher;
      if (onFulfilled !== undefined && typeof onFulfilled !== 'function') {
        throw TypeError('promise watcher onFulfilled must be a function');
      }
      if (onRejected !== undefined && typeof onRejected !== 'function') {
        throw TypeError('promise watcher onRejected must be a function');
      }
      if (!onFulfilled && !onRejected) throw TypeError('promise watcher must implement at least one handler method');
      const watch = harden([watcher, ...args]);
      // The table is durable: what it cannot hold is refused now (the message of its init).
      checkDurable(L.serialize(watch), 'value');
      Promise.resolve().then(() => {
        const vpid = vpidOfWatched(p);
        const table = tables[2];
        if (table.has(vpid)) {
          table.set(vpid, harden([...table.get(vpid), watch]));
          return;
        }
        table.init(vpid, harden([watch]));
        promiseRegistrations.set(vpid, p);
        p.then(v => settleWatched(vpid, p, v, true), e => settleWatched(vpid, p, e, false))
          .catch(e => L.checkFatal(e));
      }).catch(e => L.checkFatal(e));
    }
    const ignoreSettlement = () => {};
    // A durable kind with empty state on `kindHandle` whose instance calls the handlers; one
    // instance per handle, kept in the durable table 'promiseWatcherByKind' (tables[1]).
    function providePromiseWatcher(kindHandle, fulfillHandler = ignoreSettlement,
      rejectHandler = ignoreSettlement) {
      requireStarted('providePromiseWatcher');
      if (typeof fulfillHandler !== 'function') throw TypeError('providePromiseWatcher: fulfillHandler must be a function');
      if (typeof rejectHandler !== 'function') throw TypeError('providePromiseWatcher: rejectHandler must be a function');
      const makeWatcher = defineDurableKindInternal(kindHandle, () => ({}), {
        onFulfilled: (_context, res, ...args) => fulfillHandler(res, ...args),
        onRejected: (_context, rej, ...args) => rejectHandler(rej, ...args),
      }, {}, false);
      const table = tables[1];
      if (table.has(kindHandle)) return table.get(kindHandle);
      const watcher = makeWatcher();
      table.init(kindHandle, watcher);
      return watcher;
    }

    const canBeDurable = value => {
      const capdata = L.serialize(harden(value));
      return capdata.slots.every(isDurableVref);
    };

    const VatData = harden({
      defineKind: (tag, init, behavior, options = {}) => {
        requireStarted('defineKind');
        return defineKindInternal(tag, init, behavior, options || {}, false);
      },
      defineKindMulti: (tag, init, facets, options = {}) => {
        requireStarted('defineKindMulti');
        return defineKindInternal(tag, init, facets, options || {}, true);
      },
      defineDurableKind: (handle, init, behavior, options = {}) => {
        requireStarted('defineDurableKind');
        return defineDurableKindInternal(handle, init, behavior, options || {}, false);
      },
      defineDurableKindMulti: (handle, init, facets, options = {}) => {
        requireStarted('defineDurableKindMulti');
        return defineDurableKindInternal(handle, init, facets, options || {}, true);
      },
      makeKindHandle,
      canBeDurable,
      makeScalarBigMapStore: storeMaker('scalarMapStore', 'scalarDurableMapStore'),
      makeScalarBigWeakMapStore: storeMaker('scalarWeakMapStore', 'scalarDurableWeakMapStore'),
      makeScalarBigSetStore: storeMaker('scalarSetStore', 'scalarDurableSetStore'),
      makeScalarBigWeakSetStore: storeMaker('scalarWeakSetStore', 'scalarDurableWeakSetStore'),
      watchPromise,
      providePromiseWatcher,
    });

    return {
      VatData,
      status,
      startVatBegin,
      startVatTables,
      flush,
      reanimate,
      retainExported,
      dropExport,
      retireExport,
      possiblyDead,
      // Representatives held for the vat's life (the startVat tables): liveslots' needsGC()
      // does not count them, so a vat that uses no virtual object skips a reap's GC as before.
      permanentRepresentatives: () => tables.length,
      remotablePins,
      getRC,
      importRC,
      isReachable,
      deleteVirtualObject,
      ceaseRecognition,
      isVrefRecognizable,
      isVirtualVref,
      isDurableVref,
    };
  }

  ns.vom = freeze({ makeVirtualObjectManager, encodeKey, decodeKey, M, matches });
});
