// vat_runtime.js: boots one vat realm and is the host's entry point into it.
//
// The host (vats/js_vat_host.cc) evaluates, in a fresh realm: SES (its ES modules),
// lockdown(), then pass_style.js, marshal.js, vom.js, liveslots.js and this file, calling each installer
// with the same private namespace object `ns`, and then ns.boot(host, config). `host` holds
// three natives:
//   host.syscall(jsonText) -> jsonText   one docs/KERNEL_SPEC.md §3.6 syscall and its result (null
//                                        for the common ['ok', null])
//   host.fatal(text)                     marks the current delivery as failed
//   host.log(text)                       console output (not consensus)
// Neither `ns` nor `host` is reachable from vat code.
//
// boot() captures WeakRef and FinalizationRegistry for liveslots, then turns the realm's
// global into what vat code may see: SES "shared" Date/Math/Error/RegExp (Date.now(),
// new Date() and Math.random() throw; with the experimental lite lockdown,
// js/lite_lockdown.js, the realm's own, tamed in place), no WeakRef, FinalizationRegistry, gc, Compartment,
// lockdown or WebAssembly, and vref-aware WeakMap/WeakSet. Vat modules are then loaded as native modules of
// this realm; "@endo/..." specifiers resolve to host modules built from hostModules below.
(function installVatRuntime(ns) {
  'use strict';
  // Captured at install time (after lockdown): vat code may replace the global `harden`.
  const { harden } = globalThis;

  const { defineProperty, freeze, getPrototypeOf } = Object;

  ns.boot = function boot(host, config) {
    const g = globalThis;
    const { raw = false } = config;

    const rawSyscall = vso => {
      const text = host.syscall(JSON.stringify(vso));
      if (text === null) return null; // ['ok', null]
      const result = JSON.parse(text);
      if (result[0] !== 'ok') throw Error(`syscall ${vso[0]} failed: ${result[1]}`);
      return result[1];
    };
    const orUndefined = v => (v === null ? undefined : v);
    const syscall = freeze({
      send: (target, methargs, result = null) => {
        rawSyscall(['send', target, { methargs, result }]);
      },
      subscribe: vpid => {
        rawSyscall(['subscribe', vpid]);
      },
      resolve: resolutions => {
        rawSyscall(['resolve', resolutions]);
      },
      exit: (isFailure, info) => {
        rawSyscall(['exit', !!isFailure, info]);
      },
      vatstoreGet: key => orUndefined(rawSyscall(['vatstoreGet', key])),
      vatstoreGetNextKey: priorKey => orUndefined(rawSyscall(['vatstoreGetNextKey', priorKey])),
      vatstoreSet: (key, value) => {
        rawSyscall(['vatstoreSet', key, value]);
      },
      vatstoreDelete: key => {
        rawSyscall(['vatstoreDelete', key]);
      },
      dropImports: vrefs => {
        rawSyscall(['dropImports', vrefs]);
      },
      retireImports: vrefs => {
        rawSyscall(['retireImports', vrefs]);
      },
      retireExports: vrefs => {
        rawSyscall(['retireExports', vrefs]);
      },
      abandonExports: vrefs => {
        rawSyscall(['abandonExports', vrefs]);
      },
      callNow: (target, method, args) => rawSyscall(['callNow', target, method, args]),
    });

    // Captured before the global is tamed.
    let InternalErrorPrototype;
    if (typeof g.InternalError === 'function') InternalErrorPrototype = g.InternalError.prototype;
    const liveslots = ns.liveslots.makeLiveslots({
      syscall,
      fatal: text => host.fatal(String(text)),
      log: text => host.log(String(text)),
      WeakRef: g.WeakRef,
      FinalizationRegistry: g.FinalizationRegistry,
      WeakMap: g.WeakMap,
      WeakSet: g.WeakSet,
      InternalErrorPrototype,
    });

    // ---- the vat-visible global ------------------------------------------------------------
    // With SES, a compartment's shared intrinsics; with the lite lockdown (no Compartment) the
    // realm's own, which lite_lockdown.js tamed in place.
    const shared = typeof g.Compartment === 'function' ? new g.Compartment().globalThis : g;
    const setGlobal = (name, value) =>
      defineProperty(g, name, { value, writable: true, enumerable: false, configurable: true });
    for (const name of ['Date', 'Math', 'Error', 'RegExp']) setGlobal(name, shared[name]);
    for (const name of [
      'WeakRef',
      'FinalizationRegistry',
      'gc',
      'Compartment',
      'lockdown',
      'repairIntrinsics',
      'hardenIntrinsics',
      'InternalError',
      // Intl.DateTimeFormat().format() reads the clock, and Intl's answers depend on the
      // host's ICU data; Agoric's XS vat workers have no Intl either.
      'Intl',
      'getStackString',
      // Not deterministic across compiler tiers and not meterable; the engine is already built
      // without it (js_engine.cc turns wasm off), this covers an engine that defines it anyway.
      'WebAssembly',
    ]) {
      delete g[name];
    }
    if (!raw) {
      setGlobal('WeakMap', liveslots.WeakMap);
      setGlobal('WeakSet', liveslots.WeakSet);
      // What @agoric/vat-data reads (vom.js).
      setGlobal('VatData', liveslots.VatData);
    }
    const fmt = args => args.map(a => (typeof a === 'string' ? a : safeString(a))).join(' ');
    const safeString = a => {
      try {
        return String(a);
      } catch (e) {
        return '(unprintable)';
      }
    };
    const consoleObj = {};
    for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
      consoleObj[level] = (...args) => host.log(fmt(args));
    }
    setGlobal('console', harden(consoleObj));

    // ---- host modules ----------------------------------------------------------------------
    const ps = ns.passStyle;
    const { E, makePromiseKit } = liveslots;
    const hostModules = {
      '@endo/far': { Far: ps.Far, E, passStyleOf: ps.passStyleOf, Remotable: ps.Remotable,
        getInterfaceOf: ps.getInterfaceOf },
      '@endo/eventual-send': { E },
      '@endo/promise-kit': { makePromiseKit },
      '@endo/marshal': { makeMarshal: ns.marshal.makeMarshal, passStyleOf: ps.passStyleOf,
        Far: ps.Far, Remotable: ps.Remotable, makeTagged: ps.makeTagged,
        getInterfaceOf: ps.getInterfaceOf },
      '@endo/pass-style': { passStyleOf: ps.passStyleOf, Far: ps.Far, Remotable: ps.Remotable,
        makeTagged: ps.makeTagged, getTag: ps.getTag, isPassable: ps.isPassable,
        getInterfaceOf: ps.getInterfaceOf },
      '@endo/init': {},
      '@endo/init/debug.js': {},
    };
    for (const k of Object.keys(hostModules)) harden(hostModules[k]);
    ns.hostModuleExports = specifier => hostModules[specifier];
    ns.hostModuleSource = specifier => {
      const exp = hostModules[specifier];
      if (exp === undefined) return undefined;
      const lines = ['const x = import.meta.hostExports;'];
      for (const name of Object.keys(exp)) lines.push(`export const ${name} = x.${name};`);
      return lines.join('\n');
    };

    // ---- vat namespace and dispatch ----------------------------------------------------------
    let rawDispatch;
    ns.setVatNamespace = vatNS => {
      if (!raw) {
        liveslots.setVatNamespace(vatNS);
        return;
      }
      if (typeof vatNS.setup !== 'function') throw Error('raw vat module must export setup()');
      let stateValue;
      const state = harden({
        get: () => stateValue,
        set: v => {
          stateValue = v;
        },
      });
      const helpers = harden({
        log: text => host.log(String(text)),
        makeMarshal: ns.marshal.makeMarshal,
      });
      const vatPowers = harden({ testLog: text => host.log(String(text)) });
      const d = vatNS.setup(syscall, state, helpers, vatPowers);
      if (typeof d !== 'function') throw Error('setup() must return a dispatch function');
      rawDispatch = d;
    };

    // Returns undefined or a promise; a rejected promise (after the job queue drained) or a
    // throw is a delivery failure.
    ns.dispatchFromHost = deliveryJson => {
      const vd = JSON.parse(deliveryJson);
      if (raw) {
        if (!rawDispatch) throw Error('raw vat was not set up');
        return rawDispatch(harden(vd));
      }
      // Liveslots only reads it (vat code sees values unserialized from it, not vd itself):
      // hardening every delivery would walk it for nothing.
      return liveslots.dispatch(vd);
    };

    // Asked by the host before bringOutYourDead: false when no GC could change what the
    // delivery emits (raw vats never see GC), so the host may skip collecting the vat's zone.
    ns.needsGC = () => !raw && liveslots.needsGC();
    // Called by the host after a successful delivery's promise jobs ran: liveslots writes
    // back the virtual-object state cached during the delivery.
    ns.afterDelivery = () => {
      if (!raw) liveslots.afterDelivery();
    };
    // {pending}: whether afterDelivery() has work (read by the host; see vom.js).
    ns.vomStatus = raw ? { pending: false } : liveslots.vomStatus;
    ns.debugTables = () => liveslots.debugTables();
    ns.liveslotsInstance = liveslots;
    ns.getPrototypeOf = getPrototypeOf;
  };
});
