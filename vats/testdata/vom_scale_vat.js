// The vat of issue 15's scale tests: vats/vom_scale_test.cc runs it in-process,
// tests/vom_scale_server_test.cc through swingsetd. Virtual objects in one map store, made,
// sampled and deleted in ranges.
import { Far } from '@endo/far';
export function buildRootObject() {
  const makeThing = VatData.defineKind('thing', n => ({ n }), {
    n: ({ state }) => state.n,
  });
  let things;
  return Far('scale', {
    ping() { return 'pong'; },
    make(from, count) {
      if (things === undefined) things = VatData.makeScalarBigMapStore('things');
      for (let i = from; i < from + count; i += 1) things.init(i, makeThing(i));
      return things.getSize();
    },
    sample(keys) { return harden(keys.map(k => things.get(k).n())); },
    remove(from, count) {
      for (let i = from; i < from + count; i += 1) things.delete(i);
      return things.getSize();
    },
    dropStore() { things = undefined; return 'dropped'; },
  });
}
