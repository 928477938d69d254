// The demo chain's application vat: a counter with a few more methods, so blocks exercise
// eventual sends, exported objects (and their garbage collection), errors and plain data.
import { Far, E } from '@endo/far';

export function buildRootObject(_vatPowers, vatParameters) {
  let count = vatParameters.start ?? 0;
  const stored = new Map();

  const counter = Far('counter', {
    increment(n = 1) {
      count += n;
      return count;
    },
    get() {
      return count;
    },
    echo(...args) {
      return harden(args);
    },
    // Counts down by sending itself chain(n - 1) until 0; resolves to n.
    async chain(n) {
      if (n > 0) await E(counter).chain(n - 1);
      return n;
    },
    fail(message) {
      throw Error(message);
    },
    // A new exported object; the caller holds it (or drops it, and GC retires it).
    makeThing(label) {
      return Far('thing', { describe: () => label });
    },
    store(key, value) {
      stored.set(key, value);
    },
    load(key) {
      return stored.has(key) ? stored.get(key) : null;
    },
  });
  return counter;
}
