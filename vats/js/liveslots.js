// liveslots.js: the layer between a vat's objects and the kernel's vrefs (docs/DESIGN.md §4, §6).
//
// Tables (one instance per vat):
//   slotToVal            object vref -> WeakRef(object)   imports (Presences) and exports
//   valToSlot            object/promise -> vref            (a realm WeakMap)
//   exportedRemotables   strong Set of exports the kernel can reach (until dropExports)
//   kernelRecognizable   export vrefs the kernel still recognizes (until retired)
//   promiseTable         vpid -> promise, strong, until the vpid is retired
//   importedKits         vpid -> {resolve, reject} for promises decided elsewhere (we subscribed)
//   sendTargets          promise -> vpid, promises a message may be pipelined to
//   scanned              vrefs whose death bringOutYourDead detects by scanning (at most
//                        SCAN_LIMIT; the rest are registered with the FinalizationRegistry)
//   finalized            registered vrefs whose object was finalized (filled only when the
//                        host runs FinalizationRegistry cleanup, i.e. during bringOutYourDead)
//   recognizers          import or virtual-object vref -> Set of vref-aware WeakMap/WeakSet
//                        records using it as key
//   possiblyRetired      imports that lost a recognizer or were dropped: bringOutYourDead
//                        retires those nothing reaches or recognizes any more
// Virtual objects, collections, baggage and the vdata refcounts are vom.js's (VatData).
//
// GC protocol: Presences are held only weakly here; exports of Remotables and promises are
// strong. Only bringOutYourDead finds the dead, right after the host's forced GC of the vat's
// zone (and ClearKeptObjects), in two ways that give the same answer:
//   - the first SCAN_LIMIT vrefs (in the order they entered the table) are checked by a scan:
//     a WeakRef in slotToVal whose target is gone is exactly an object a FinalizationRegistry
//     would have reported by then, natural GCs included. A deref() costs ~0.5 us per live
//     entry and reap, but spares a registration per object (~2 us) and a callback per dead
//     object, and with no callbacks the host skips its second GC round (the 10,000-object
//     reap: ~5-12 ms of callbacks and ~2.5 ms of second round saved);
//   - beyond that (vats with very many live imports/exports, where a scan per reap would cost
//     more than registrations) objects are registered with the one FinalizationRegistry,
//     which feeds `finalized`.
// The dead then go through the scan of the VOM spec (possiblyDead, vom.js): an import is
// dropped only if no virtual data holds it either (vom.rc), and retired only if nothing
// recognizes it; a virtual object is deleted when RAM, vdata and the kernel all let go. The
// syscalls, each list sorted: dropImports, retireImports, retireExports. The registry also forgets recognizer records of collected vref-aware
// collections; its callbacks run only when the host runs cleanup during bringOutYourDead.
// Which way a vref is tracked depends only on the order of imports/exports, never on GC.
// Elsewhere WeakRef.deref() is used only where either answer leads to the same syscalls.
//
// Vrefs we allocate (counters in vom.js, persisted as idCounters): exports o+N (root o+0; a
// fresh vat's first own export is o+10, as IDs 1-9 go to kind handles and store types),
// promises p+N (from p+5), virtual objects and stores o+v<K>/<I>, o+d<K>/<I> (vom.js).
(function installLiveslots(ns) {
  'use strict';
  // Captured at install time (after lockdown): vat code may replace the global `harden`.
  const { harden } = globalThis;
  // harden() of a rest-arguments array (see harden.js); plain harden() with SES's own.
  const hardenArgs = ns.hardenInternals ? ns.hardenInternals.hardenFreshArray : harden;

  const { Far, passStyleOf, makePresence } = ns.passStyle;
  const { makeMarshal } = ns.marshal;
  const { makeVirtualObjectManager } = ns.vom;
  const isVirtualVref = v => v[0] === 'o' && v[1] === '+' && (v[2] === 'v' || v[2] === 'd');
  const { getPrototypeOf, freeze } = Object;
  const { apply, ownKeys } = Reflect;

  function makePromiseKit() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return harden({ promise, resolve, reject });
  }
  // The same, unhardened, for liveslots' own bookkeeping (never handed to vat code; hardening
  // a kit per message was a measurable part of every send).
  function makeInternalKit() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  // powers: { syscall, fatal(text), log(text), WeakRef, FinalizationRegistry, WeakMap, WeakSet,
  //           InternalErrorPrototype }
  function makeLiveslots(powers) {
    const {
      syscall,
      fatal,
      log,
      WeakRef,
      FinalizationRegistry,
      WeakMap: RealWeakMap,
      WeakSet: RealWeakSet,
      InternalErrorPrototype,
    } = powers;

    const slotToVal = new Map();
    const valToSlot = new RealWeakMap();
    const exportedRemotables = new Set();
    const kernelRecognizable = new Set();
    const promiseTable = new Map();
    const importedKits = new Map();
    const sendTargets = new RealWeakMap();
    const devices = new Map();
    const scanned = new Set();
    const finalized = new Set();
    // The next export, collection and promise IDs (vom.js persists them as idCounters).
    const ids = { exportID: 1, collectionID: 1, promiseID: 5 };
    const recognizers = new Map();
    const possiblyRetired = new Set();
    let notifyBatch; // vpids of the notify being decoded: do not subscribe to those
    let vatNamespace;
    let started = false;

    // ---- faults --------------------------------------------------------------------------
    // Over-recursion and OOM are engine faults, not vat-level rejections: they end the
    // delivery with an error even when they surface as a rejected promise.
    const isEngineFault = e => {
      if (e === 'out of memory') return true;
      if (InternalErrorPrototype && typeof e === 'object' && e !== null) {
        for (let p = getPrototypeOf(e); p !== null; p = getPrototypeOf(p)) {
          if (p === InternalErrorPrototype) return true;
        }
      }
      return false;
    };
    const describe = e => {
      try {
        if (typeof e === 'object' && e !== null && typeof e.message === 'string') {
          return `${e.name}: ${e.message}`;
        }
        return String(e);
      } catch (err) {
        return '(unprintable)';
      }
    };
    const checkFatal = e => {
      if (isEngineFault(e)) fatal(describe(e));
    };

    // ---- the one FinalizationRegistry ------------------------------------------------------
    // held: a vref string (a Presence or export beyond the scanned ones), or a recognizer
    // record (a collection died).
    const forgetRecognizerRecord = rec => {
      for (const vref of [...rec.vrefs]) removeRecognizer(rec, vref); // eslint-disable-line no-use-before-define
    };
    const registry = new FinalizationRegistry(held => {
      if (typeof held === 'string') finalized.add(held);
      else forgetRecognizerRecord(held);
    });

    // ---- object tables ---------------------------------------------------------------------
    // How many object vrefs slotToVal holds, by kind. Changed only by deliveries (never by
    // GC), so what they say is the same on every node.
    // Representatives of virtual objects and stores (o+v.., o+d..) are counted apart: they are
    // never in exportedRemotables, and the VOM's own tables among them never die.
    let importsInTable = 0;
    let exportsInTable = 0;
    let virtualInTable = 0;
    function setSlot(vref, wr) {
      const before = slotToVal.size;
      slotToVal.set(vref, wr);
      if (slotToVal.size !== before) {
        if (vref[1] === '-') importsInTable += 1;
        else if (isVirtualVref(vref)) virtualInTable += 1;
        else exportsInTable += 1;
      }
    }
    function deleteSlot(vref) {
      if (!slotToVal.delete(vref)) return;
      scanned.delete(vref);
      if (vref[1] === '-') importsInTable -= 1;
      else if (isVirtualVref(vref)) virtualInTable -= 1;
      else exportsInTable -= 1;
    }
    // How bringOutYourDead will learn that `val` (just put in slotToVal under `vref`) died.
    const SCAN_LIMIT = 16384;
    function trackDeath(vref, val) {
      if (scanned.size < SCAN_LIMIT) {
        scanned.add(vref); // no-op if already scanned
        return;
      }
      if (!scanned.has(vref)) registry.register(val, vref);
    }
    // Whether a GC could make bringOutYourDead emit anything: some Presence is in the table,
    // some export is no longer pinned by the kernel, or some vref-aware collection recognizes
    // an import. If not, no finalization can lead to a syscall, and the host skips the GC.
    function needsGC() {
      return (
        importsInTable > 0 ||
        exportsInTable > exportedRemotables.size ||
        // A Representative other than the VOM's tables (held for the vat's life) may die.
        virtualInTable > vom.permanentRepresentatives() || // eslint-disable-line no-use-before-define
        recognizers.size > 0 ||
        possiblyRetired.size > 0 ||
        finalized.size > 0 ||
        vom.possiblyDead.size > 0 // eslint-disable-line no-use-before-define
      );
    }

    function registerExport(vref, val) {
      setSlot(vref, new WeakRef(val));
      trackDeath(vref, val);
      valToSlot.set(val, vref);
      exportedRemotables.add(val);
      kernelRecognizable.add(vref);
    }

    function makeImport(vref, iface) {
      const presence = makePresence(iface === undefined ? 'Alleged: presence' : iface);
      setSlot(vref, new WeakRef(presence));
      trackDeath(vref, presence);
      valToSlot.set(presence, vref);
      return presence;
    }

    function importDevice(vref, iface) {
      if (!devices.has(vref)) {
        const node = makePresence(iface === undefined ? 'Alleged: device' : iface);
        devices.set(vref, node);
        valToSlot.set(node, vref);
      }
      return devices.get(vref);
    }

    function importPromise(vpid) {
      if (promiseTable.has(vpid)) return promiseTable.get(vpid);
      if (vpid[1] !== '-') throw Error(`liveslots: unknown promise ${vpid}`);
      const kit = makeInternalKit();
      promiseTable.set(vpid, kit.promise);
      valToSlot.set(kit.promise, vpid);
      importedKits.set(vpid, kit);
      sendTargets.set(kit.promise, vpid);
      if (!(notifyBatch && notifyBatch.has(vpid))) syscall.subscribe(vpid);
      return kit.promise;
    }

    function convertSlotToVal(slot, iface) {
      if (typeof slot !== 'string' || slot.length < 3) throw Error(`liveslots: bad slot ${slot}`);
      switch (slot[0]) {
        case 'o': {
          // Inline tests, no call: ticks of deliveries that use no virtual object stay as
          // they were (docs/METERING.md).
          if (slot[1] === '+' && (slot[2] === 'v' || slot[2] === 'd')) {
            return vom.reanimate(slot); // eslint-disable-line no-use-before-define
          }
          const wr = slotToVal.get(slot);
          const existing = wr && wr.deref();
          if (existing !== undefined) return existing;
          if (slot[1] === '+') throw Error(`liveslots: unknown export ${slot}`);
          return makeImport(slot, iface);
        }
        case 'p':
          return importPromise(slot);
        case 'd':
          return importDevice(slot, iface);
        default:
          throw Error(`liveslots: bad slot ${slot}`);
      }
    }

    // Our own promise: tell the kernel how it settles, then forget the vpid.
    function resolveToKernel(vpid, rejected, value) {
      if (!promiseTable.has(vpid)) return;
      if (rejected) checkFatal(value);
      let data;
      try {
        data = m.serialize(harden(value)); // eslint-disable-line no-use-before-define
      } catch (e) {
        checkFatal(e);
        rejected = true;
        data = m.serialize(harden(Error(`liveslots: unpassable resolution: ${describe(e)}`))); // eslint-disable-line no-use-before-define
      }
      syscall.resolve([[vpid, rejected, data]]);
      retirePromise(vpid);
    }

    function followForKernel(vpid, p) {
      p.then(
        v => resolveToKernel(vpid, false, v),
        e => resolveToKernel(vpid, true, e),
      );
    }

    function retirePromise(vpid) {
      const p = promiseTable.get(vpid);
      promiseTable.delete(vpid);
      importedKits.delete(vpid);
      if (p !== undefined) {
        if (valToSlot.get(p) === vpid) valToSlot.delete(p);
        sendTargets.delete(p);
      }
    }

    function convertValToSlot(val) {
      const known = valToSlot.get(val);
      if (known !== undefined) {
        if (known[0] === 'o' && known[1] === '+' && (known[2] === 'v' || known[2] === 'd')) {
          vom.retainExported(known); // eslint-disable-line no-use-before-define
        } else if (known[0] === 'o' && known[1] === '+' && !exportedRemotables.has(val)) {
          // Re-exported after dropExports: the kernel can reach it again.
          exportedRemotables.add(val);
          kernelRecognizable.add(known);
        }
        return known;
      }
      const style = passStyleOf(val);
      if (style === 'remotable') {
        const vref = `o+${ids.exportID}`;
        ids.exportID += 1;
        registerExport(vref, val);
        return vref;
      }
      if (style === 'promise') {
        const vpid = `p+${ids.promiseID}`;
        ids.promiseID += 1;
        promiseTable.set(vpid, val);
        valToSlot.set(val, vpid);
        followForKernel(vpid, val);
        return vpid;
      }
      throw TypeError(`liveslots: cannot export a ${style}`);
    }

    const m = makeMarshal(convertValToSlot, convertSlotToVal, { marshalName: 'liveslots' });

    // ---- virtual data (vom.js) ---------------------------------------------------------------
    // Values stored in virtual objects and collections are serialized by a second marshaller:
    // a Remotable gets a vref (o+N) without being exported to the kernel; promises cannot be
    // stored yet.
    function convertValToSlotForVdata(val) {
      if (passStyleOf(val) === 'promise') {
        throw TypeError('liveslots: promises cannot be stored in virtual data yet');
      }
      const known = valToSlot.get(val);
      if (known !== undefined) return known;
      const style = passStyleOf(val);
      if (style !== 'remotable') throw TypeError(`liveslots: cannot store a ${style}`);
      const vref = `o+${ids.exportID}`;
      ids.exportID += 1;
      setSlot(vref, new WeakRef(val));
      trackDeath(vref, val);
      valToSlot.set(val, vref);
      return vref;
    }
    const vm = makeMarshal(convertValToSlotForVdata, convertSlotToVal, { marshalName: 'vdata' });
    const slotVal = vref => {
      const wr = slotToVal.get(vref);
      return wr === undefined ? undefined : wr.deref();
    };
    // RAM recognizers of `vref` (vref-aware WeakMap/WeakSet entries) are forgotten; their
    // values are freed. True if there were any.
    function forgetRamRecognizers(vref) {
      const set = recognizers.get(vref);
      if (!set) return false;
      for (const rec of set) {
        rec.vrefs.delete(vref);
        const map = rec.mapRef.deref();
        if (map) map.delete(vref);
      }
      recognizers.delete(vref);
      return true;
    }
    const vom = makeVirtualObjectManager({
      syscall,
      ids,
      serialize: val => vm.serialize(val),
      unserialize: capdata => vm.unserialize(capdata),
      vrefOf: val => convertValToSlotForVdata(val),
      vrefOfExisting: val => valToSlot.get(val),
      slotVal,
      hasSlot: vref => slotToVal.has(vref),
      registerRep: (vref, obj) => {
        setSlot(vref, new WeakRef(obj));
        trackDeath(vref, obj);
      },
      setValToSlot: (val, vref) => valToSlot.set(val, vref),
      convertSlotToVal: vref => convertSlotToVal(vref, undefined),
      possiblyRetired: vref => possiblyRetired.add(vref),
      forgetRamRecognizers,
      checkFatal,
    });
    const { VatData } = vom;

    // ---- eventual send ---------------------------------------------------------------------
    // Where a message to `x` must go through the kernel: an imported Presence's vref, or the
    // vpid of a promise decided elsewhere that is not yet settled (pipelining).
    function remoteSlotOf(x) {
      if (typeof x !== 'object' || x === null) return undefined;
      const s = valToSlot.get(x);
      if (s !== undefined && s[0] === 'o' && s[1] === '-') return s;
      return sendTargets.get(x);
    }

    function invoke(target, method, args) {
      if (method === undefined) {
        if (typeof target !== 'function') throw TypeError('target is not a function');
        return apply(target, undefined, args);
      }
      if (target === undefined || target === null) {
        throw TypeError(`cannot deliver "${String(method)}" to ${target}`);
      }
      const fn = target[method];
      if (typeof fn !== 'function') {
        throw TypeError(`target has no method "${String(method)}", has [${ownKeys(target).map(String).join(',')}]`);
      }
      return apply(fn, target, args);
    }

    function queueMessage(targetSlot, method, args, sendOnly) {
      // `args` is hardened by every caller (the E() proxy, or unserialize); the wrapper array
      // is ours and never leaves this function, so it needs no harden() walk.
      const methargs = m.serialize([method, args]);
      let resultVPID = null;
      let promise;
      if (!sendOnly) {
        resultVPID = `p+${ids.promiseID}`;
        ids.promiseID += 1;
        const kit = makeInternalKit();
        promise = kit.promise;
        promiseTable.set(resultVPID, promise);
        valToSlot.set(promise, resultVPID);
        importedKits.set(resultVPID, kit);
        sendTargets.set(promise, resultVPID);
      }
      syscall.send(targetSlot, methargs, resultVPID);
      if (!sendOnly) syscall.subscribe(resultVPID);
      return promise;
    }

    function eventualSend(x, method, args, sendOnly) {
      const slot = remoteSlotOf(x);
      if (slot !== undefined) return queueMessage(slot, method, args, sendOnly);
      return Promise.resolve(x).then(t => {
        const s = remoteSlotOf(t);
        if (s !== undefined) return queueMessage(s, method, args, false);
        return invoke(t, method, args);
      });
    }

    // One handler per kind, shared by all E() proxies; each proxy's target is a fresh arrow
    // function returning x (callable, as the apply trap needs, and never exposed), so an E()
    // call makes one function and the proxy instead of a handler and two trap closures more.
    const makeSendHandler = sendOnly =>
      freeze({
        get: (target, method) => (...args) => {
          const r = eventualSend(target(), method, hardenArgs(args), sendOnly);
          if (sendOnly) {
            if (r) r.catch(e => checkFatal(e));
            return undefined;
          }
          return r;
        },
        apply: (target, _, args) => eventualSend(target(), undefined, hardenArgs(args), sendOnly),
      });
    const sendHandler = makeSendHandler(false);
    const sendOnlyHandler = makeSendHandler(true);
    const makeSendProxy = (x, sendOnly) =>
      new Proxy(() => x, sendOnly ? sendOnlyHandler : sendHandler);

    const E = x => makeSendProxy(x, false);
    E.sendOnly = x => makeSendProxy(x, true);
    E.when = (x, onFulfilled, onRejected) => Promise.resolve(x).then(onFulfilled, onRejected);
    E.get = x =>
      new Proxy(
        {},
        { get: (_, prop) => Promise.resolve(x).then(t => {
          if (remoteSlotOf(t) !== undefined) throw TypeError('E.get on a remote object is not supported');
          return t[prop];
        }) },
      );
    E.resolve = v => Promise.resolve(v);
    harden(E);

    // Synchronous device calls: D(deviceNode).method(...args).
    const D = node =>
      new Proxy({}, {
        get: (_, method) => (...args) => {
          const vref = valToSlot.get(node);
          if (vref === undefined || vref[0] !== 'd') throw TypeError('D() needs a device node');
          const ret = syscall.callNow(vref, method, m.serialize(harden(args)));
          return m.unserialize(ret);
        },
      });
    harden(D);

    // ---- vref-aware WeakMap / WeakSet for vat code -----------------------------------------
    // Keys that are imported Presences are stored by vref, so a Presence rebuilt after a
    // natural GC is the same key; other keys go to a real WeakMap. Each collection has a
    // recognizer record {vrefs, mapRef} (never the collection itself, so it can be collected).
    const importVrefOf = key => {
      if ((typeof key !== 'object' || key === null) && typeof key !== 'function') return undefined;
      const s = valToSlot.get(key);
      return s !== undefined && s[0] === 'o' && (s[1] === '-' || isVirtualVref(s)) ? s : undefined;
    };
    function addRecognizer(rec, vref) {
      if (rec.vrefs.has(vref)) return;
      rec.vrefs.add(vref);
      let set = recognizers.get(vref);
      if (!set) {
        set = new Set();
        recognizers.set(vref, set);
      }
      set.add(rec);
    }
    function removeRecognizer(rec, vref) {
      if (!rec.vrefs.delete(vref)) return;
      const set = recognizers.get(vref);
      if (!set) return;
      set.delete(rec);
      if (set.size === 0) {
        recognizers.delete(vref);
        if (vref[1] === '-') possiblyRetired.add(vref);
      }
    }
    const collectionState = new RealWeakMap(); // collection -> {real, byVref, rec}
    const stateOf = (c, kind) => {
      const st = collectionState.get(c);
      if (!st || st.kind !== kind) throw TypeError(`not a ${kind}`);
      return st;
    };
    const newCollectionState = (self, kind, RealCtor) => {
      const byVref = new Map();
      const rec = { vrefs: new Set(), mapRef: new WeakRef(byVref) };
      const st = { kind, real: new RealCtor(), byVref, rec };
      collectionState.set(self, st);
      registry.register(self, rec);
      return st;
    };
    const requireKey = k => {
      if ((typeof k !== 'object' || k === null) && typeof k !== 'function') {
        throw TypeError(`invalid value used as weak key: ${String(k)}`);
      }
    };

    // delete() of both collections: a Presence key is kept by vref, with a recognizer record.
    const deleteKey = (st, k) => {
      const v = importVrefOf(k);
      if (v === undefined) return st.real.delete(k);
      if (!st.byVref.delete(v)) return false;
      removeRecognizer(st.rec, v);
      return true;
    };

    class VatWeakMap {
      constructor(entries = undefined) {
        newCollectionState(this, 'WeakMap', RealWeakMap);
        if (entries !== undefined && entries !== null) {
          for (const [k, v] of entries) this.set(k, v);
        }
      }
      has(k) {
        const st = stateOf(this, 'WeakMap');
        const v = importVrefOf(k);
        return v !== undefined ? st.byVref.has(v) : st.real.has(k);
      }
      get(k) {
        const st = stateOf(this, 'WeakMap');
        const v = importVrefOf(k);
        return v !== undefined ? st.byVref.get(v) : st.real.get(k);
      }
      set(k, value) {
        const st = stateOf(this, 'WeakMap');
        requireKey(k);
        const v = importVrefOf(k);
        if (v !== undefined) {
          st.byVref.set(v, value);
          addRecognizer(st.rec, v);
        } else {
          st.real.set(k, value);
        }
        return this;
      }
      delete(k) {
        return deleteKey(stateOf(this, 'WeakMap'), k);
      }
    }
    Object.defineProperty(VatWeakMap.prototype, Symbol.toStringTag, { value: 'WeakMap' });
    Object.defineProperty(VatWeakMap, 'name', { value: 'WeakMap' });

    class VatWeakSet {
      constructor(values = undefined) {
        newCollectionState(this, 'WeakSet', RealWeakSet);
        if (values !== undefined && values !== null) {
          for (const k of values) this.add(k);
        }
      }
      has(k) {
        const st = stateOf(this, 'WeakSet');
        const v = importVrefOf(k);
        return v !== undefined ? st.byVref.has(v) : st.real.has(k);
      }
      add(k) {
        const st = stateOf(this, 'WeakSet');
        requireKey(k);
        const v = importVrefOf(k);
        if (v !== undefined) {
          st.byVref.set(v, true);
          addRecognizer(st.rec, v);
        } else {
          st.real.add(k);
        }
        return this;
      }
      delete(k) {
        return deleteKey(stateOf(this, 'WeakSet'), k);
      }
    }
    Object.defineProperty(VatWeakSet.prototype, Symbol.toStringTag, { value: 'WeakSet' });
    Object.defineProperty(VatWeakSet, 'name', { value: 'WeakSet' });
    harden(VatWeakMap);
    harden(VatWeakSet);

    const vatPowers = harden({
      exitVat: completion => syscall.exit(false, m.serialize(harden(completion))),
      exitVatWithFailure: reason => syscall.exit(true, m.serialize(harden(reason))),
      D,
      testLog: text => log(String(text)),
      ...VatData,
    });

    // ---- deliveries ------------------------------------------------------------------------
    function lookupTarget(targetSlot) {
      if (typeof targetSlot !== 'string') throw Error('liveslots: bad message target');
      if (targetSlot[0] === 'o') {
        if (targetSlot[1] !== '+') throw Error(`liveslots: message to an import ${targetSlot}`);
        const wr = slotToVal.get(targetSlot);
        const t = wr && wr.deref();
        if (t === undefined) {
          // A virtual object or store without a live Representative: made again.
          if (targetSlot[2] === 'v' || targetSlot[2] === 'd') return vom.reanimate(targetSlot);
          throw Error(`liveslots: message to unknown export ${targetSlot}`);
        }
        return t;
      }
      if (targetSlot[0] === 'p') {
        if (!promiseTable.has(targetSlot)) {
          throw Error(`liveslots: message to unknown promise ${targetSlot}`);
        }
        return promiseTable.get(targetSlot);
      }
      throw Error(`liveslots: bad message target ${targetSlot}`);
    }

    function deliverMessage(targetSlot, msg) {
      const target = lookupTarget(targetSlot);
      const methargs = m.unserialize(msg.methargs);
      const method = methargs[0];
      const args = methargs[1];
      if (!Array.isArray(args)) throw Error('liveslots: message args must be an array');
      const resultVPID = msg.result === undefined ? null : msg.result;
      let res;
      if (targetSlot[0] === 'p') {
        res = eventualSend(target, method, args, false);
      } else {
        try {
          res = Promise.resolve(invoke(target, method, args));
        } catch (e) {
          checkFatal(e);
          res = Promise.reject(e);
        }
      }
      if (resultVPID !== null) {
        if (typeof resultVPID !== 'string' || resultVPID[0] !== 'p') {
          throw Error(`liveslots: bad result ${resultVPID}`);
        }
        const prior = importedKits.get(resultVPID);
        if (prior) {
          // We held this promise as an import; the message makes us its decider.
          importedKits.delete(resultVPID);
          sendTargets.delete(prior.promise);
          prior.resolve(res);
        } else {
          promiseTable.set(resultVPID, res);
        }
        followForKernel(resultVPID, res);
      } else {
        res.catch(e => checkFatal(e));
      }
    }

    function deliverNotify(resolutions) {
      const n = resolutions.length;
      notifyBatch = new Set();
      for (let i = 0; i < n; i += 1) notifyBatch.add(resolutions[i][0]);
      const values = [];
      try {
        for (let i = 0; i < n; i += 1) values[i] = m.unserialize(resolutions[i][2]);
      } finally {
        notifyBatch = undefined;
      }
      for (let i = 0; i < n; i += 1) {
        const kit = importedKits.get(resolutions[i][0]);
        if (!kit) continue;
        if (resolutions[i][1]) kit.reject(values[i]);
        else kit.resolve(values[i]);
      }
      for (let i = 0; i < n; i += 1) retirePromise(resolutions[i][0]);
    }

    function dropExports(vrefs) {
      for (let i = 0; i < vrefs.length; i += 1) {
        const vref = vrefs[i];
        if (isVirtualVref(vref)) {
          vom.dropExport(vref);
          continue;
        }
        const wr = slotToVal.get(vref);
        const val = wr && wr.deref();
        if (val !== undefined) exportedRemotables.delete(val);
      }
    }

    function retireExports(vrefs) {
      for (let i = 0; i < vrefs.length; i += 1) {
        const vref = vrefs[i];
        if (isVirtualVref(vref)) {
          vom.retireExport(vref);
          continue;
        }
        kernelRecognizable.delete(vref);
        // Still referenced from virtual data: it keeps its vref (it is no longer exported).
        if (vom.remotablePins.has(vref)) continue;
        const wr = slotToVal.get(vref);
        const val = wr && wr.deref();
        if (val !== undefined) {
          exportedRemotables.delete(val);
          valToSlot.delete(val);
        }
        deleteSlot(vref);
      }
    }

    function retireImports(vrefs) {
      for (let i = 0; i < vrefs.length; i += 1) {
        const vref = vrefs[i];
        possiblyRetired.delete(vref);
        // Weak-store entries (vom.ir) and vref-aware WeakMap/WeakSet entries keyed by it.
        vom.ceaseRecognition(vref);
        // The vref is gone for good, whether or not a Presence for it is still alive (an
        // orphaned import): not deref()-dependent, so a natural GC cannot change what later
        // reaps find.
        deleteSlot(vref);
      }
    }

    // docs: vats/README.md "GC and bringOutYourDead". Runs right after the host's forced GC
    // of the vat's zone (skipped when needsGC() said no entry could be dead).
    function bringOutYourDead() {
      const dead = [];
      for (const vref of scanned) {
        if (slotToVal.get(vref).deref() === undefined) dead[dead.length] = vref;
      }
      for (const vref of finalized) {
        if (scanned.has(vref)) continue; // re-imported into the scanned set: checked above
        const wr = slotToVal.get(vref);
        if (wr !== undefined && wr.deref() === undefined) dead[dead.length] = vref;
      }
      finalized.clear();
      dead.sort();
      const possiblyDead = vom.possiblyDead;
      for (let i = 0; i < dead.length; i += 1) {
        deleteSlot(dead[i]);
        possiblyDead.add(dead[i]);
      }
      // Each vref leaves possiblyDead when it is examined; what the deletions add (refcounts
      // reaching 0) is examined in a later pass. Imports: RAM and vdata; Remotables: RAM
      // (vdata pins them in RAM); virtual objects and stores: RAM, vdata and export status.
      const drops = [];
      const dropped = new Set();
      const retireExps = [];
      while (possiblyDead.size > 0) {
        const pass = [...possiblyDead].sort();
        for (let i = 0; i < pass.length; i += 1) {
          const vref = pass[i];
          possiblyDead.delete(vref);
          if (isVirtualVref(vref)) {
            if (!vom.isReachable(vref)) {
              const retirees = vom.deleteVirtualObject(vref)[1];
              for (let j = 0; j < retirees.length; j += 1) retireExps[retireExps.length] = retirees[j];
            }
          } else if (vref[1] === '+') {
            if (!slotToVal.has(vref)) {
              if (kernelRecognizable.delete(vref)) retireExps[retireExps.length] = vref;
              vom.ceaseRecognition(vref);
            }
          } else if (!slotToVal.has(vref) && !dropped.has(vref) && vom.importRC(vref) === 0) {
            dropped.add(vref);
            drops[drops.length] = vref;
            possiblyRetired.add(vref);
          }
        }
      }
      const retireImps = [];
      if (possiblyRetired.size > 0) {
        const candidates = [...possiblyRetired].sort();
        possiblyRetired.clear();
        for (let i = 0; i < candidates.length; i += 1) {
          const vref = candidates[i];
          const reachable = !dropped.has(vref) && (slotToVal.has(vref) || vom.importRC(vref) > 0);
          if (!reachable && !recognizers.has(vref) && !vom.isVrefRecognizable(vref)) {
            retireImps[retireImps.length] = vref;
          }
        }
      }
      // The lists go straight to the host as JSON (vat code never sees them): no harden() walk.
      drops.sort();
      retireExps.sort();
      if (drops.length) syscall.dropImports(drops);
      if (retireImps.length) syscall.retireImports(retireImps);
      if (retireExps.length) syscall.retireExports(retireExps);
    }

    async function startVat(vatParametersCapData) {
      if (started) throw Error('liveslots: startVat delivered twice');
      started = true;
      if (!vatNamespace || typeof vatNamespace.buildRootObject !== 'function') {
        throw Error('vat module does not export buildRootObject()');
      }
      vom.startVatBegin();
      const vatParameters = m.unserialize(vatParametersCapData);
      const baggage = vom.startVatTables();
      const root = await vatNamespace.buildRootObject(vatPowers, vatParameters, baggage);
      if (passStyleOf(root) !== 'remotable') {
        throw Error('buildRootObject() must return a Far() remotable');
      }
      const rootSlot = valToSlot.get(root);
      if (rootSlot !== undefined && isVirtualVref(rootSlot)) {
        throw Error('buildRootObject() must return ephemeral, not virtual/durable object');
      }
      if (rootSlot !== undefined) throw Error('root object was already exported');
      registerExport('o+0', root);
    }

    // After the delivery's promise jobs ran: write back virtual-object state (vom.js).
    let lastDeliveryType;
    function afterDelivery() {
      vom.flush(lastDeliveryType === 'startVat');
    }

    // Delivery entry point: `vd` is docs/KERNEL_SPEC.md §3.5 array form. Returns a promise that
    // rejects if the delivery itself failed (the host then reports an error result).
    function dispatch(vd) {
      // Indexed, not destructured: under SES's override taming Array.prototype[@@iterator] is
      // an accessor, so destructuring and for-of over arrays take the engine's slow generic
      // iteration path (the same goes for `.push`, also an accessor). Liveslots' own hot paths
      // therefore index arrays and append with a[a.length] = x.
      const type = vd[0];
      lastDeliveryType = type;
      switch (type) {
        case 'message':
          deliverMessage(vd[1], vd[2]);
          return undefined;
        case 'notify':
          deliverNotify(vd[1]);
          return undefined;
        case 'dropExports':
          dropExports(vd[1]);
          return undefined;
        case 'retireExports':
          retireExports(vd[1]);
          return undefined;
        case 'retireImports':
          retireImports(vd[1]);
          return undefined;
        case 'bringOutYourDead':
          bringOutYourDead();
          return undefined;
        case 'startVat':
          return startVat(vd[1]);
        case 'changeVatOptions':
        case 'stopVat':
          return undefined;
        default:
          throw Error(`liveslots: unknown delivery type ${type}`);
      }
    }

    // Read-only view of the tables for tests and debugging.
    function debugTables() {
      const liveSlots = [];
      for (const [vref, wr] of slotToVal) liveSlots.push([vref, wr.deref() !== undefined]);
      return {
        slotToVal: liveSlots.sort(),
        exported: [...exportedRemotables].map(v => valToSlot.get(v)).sort(),
        kernelRecognizable: [...kernelRecognizable].sort(),
        promises: [...promiseTable.keys()].sort(),
        imported: [...importedKits.keys()].sort(),
        finalized: [...finalized].sort(),
        possiblyDead: [...vom.possiblyDead].sort(),
        possiblyRetired: [...possiblyRetired].sort(),
        recognizers: [...recognizers].map(([v, s]) => [v, s.size]).sort(),
        nextExportID: ids.exportID,
        nextPromiseID: ids.promiseID,
        remotablePins: [...vom.remotablePins].map(([v, p]) => [v, p.count]).sort(),
      };
    }

    return freeze({
      dispatch,
      setVatNamespace: nsObj => {
        vatNamespace = nsObj;
      },
      E,
      D,
      makePromiseKit,
      marshal: m,
      WeakMap: VatWeakMap,
      WeakSet: VatWeakSet,
      debugTables,
      needsGC,
      vatPowers,
      VatData,
      afterDelivery,
      vomStatus: vom.status,
    });
  }

  ns.liveslots = freeze({ makeLiveslots, makePromiseKit });
});
