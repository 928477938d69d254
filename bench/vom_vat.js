// The vat of the virtual-object benchmarks: bench/vom_bench.cc runs it in swingsetd, and
// bench/agoric/vom_agoric.mjs under Agoric's SwingSet (the same code: only the global VatData
// differs in where it comes from).
import { Far } from '@endo/far';

export function buildRootObject() {
  const makeThing = VatData.defineKind('thing', n => ({ n }), {
    inc: ({ state }) => {
      state.n += 1;
      return state.n;
    },
    n: ({ state }) => state.n,
  });
  const one = makeThing(0);
  const stores = new Map();
  let seed = 1;
  const rand = m => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % m;
  };
  let held;
  return Far('vom', {
    ping() { return 'pong'; },
    create(k) {
      for (let i = 0; i < k; i += 1) makeThing(i);
      return k;
    },
    call(k) {
      let r = 0;
      for (let i = 0; i < k; i += 1) r = one.inc();
      return r;
    },
    init(name, from, count) {
      let s = stores.get(name);
      if (s === undefined) {
        s = VatData.makeScalarBigMapStore(name);
        stores.set(name, s);
      }
      for (let i = from; i < from + count; i += 1) s.init(i, i);
      return s.getSize();
    },
    get(name, size, k) {
      const s = stores.get(name);
      let sum = 0;
      for (let i = 0; i < k; i += 1) sum += s.get(rand(size));
      return sum;
    },
    set(name, size, k) {
      const s = stores.get(name);
      for (let i = 0; i < k; i += 1) s.set(rand(size), i);
      return k;
    },
    has(name, size, k) {
      const s = stores.get(name);
      let found = 0;
      for (let i = 0; i < k; i += 1) if (s.has(rand(size))) found += 1;
      return found;
    },
    hold(from, count) {
      if (held === undefined) held = VatData.makeScalarBigMapStore('held');
      for (let i = from; i < from + count; i += 1) held.init(i, makeThing(i));
      return held.getSize();
    },
    drop() { held = undefined; return 'dropped'; },
  });
}
