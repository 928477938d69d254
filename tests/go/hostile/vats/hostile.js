// The hostile corpus: each method is something a contract can do to a validator. The Go driver
// (tests/go/hostile) calls them through two servers and checks both answer alike, every answer
// decodes, and no node goes down.
import { Far, E } from '@endo/far';

export function buildRootObject(vatPowers) {
  const { exitVatWithFailure } = vatPowers;
  let peer; // the other hostile vat: sends to it go through the kernel's run-queue
  let floods = 0;
  const kept = [];
  return Far('hostile', {
    // Strings no UTF-8 encoder accepts as they are.
    loneSurrogate() {
      return 'a\ud800b';
    },
    surrogates() {
      return ['\udc00', '\ud83d', 'x\ud83d\ude00y', '\ud800\ud800', { '\udfff': '\ud800' }];
    },
    echo(x) {
      return x;
    },
    codeUnits(s) {
      const out = [];
      for (let i = 0; i < s.length; i += 1) out.push(s.charCodeAt(i));
      return out;
    },
    // Numbers JSON.stringify writes in its own way.
    numbers() {
      return [0.1, 1e21, 1e-7, -0, 2 ** 53 + 2, 1.7976931348623157e308, 5e-324, 123e-20, 100, 0.000001];
    },
    // An object with many keys: parsing it must stay linear.
    manyKeys(n) {
      const o = {};
      for (let i = 0; i < n; i += 1) o[`k${i}`] = i;
      return harden(o);
    },
    // An answer far larger than a client takes by default.
    bigResult(n) {
      return 'x'.repeat(n);
    },
    arrayBufferBomb(bytes) {
      const b = new ArrayBuffer(bytes);
      kept.push(b);
      return b.byteLength;
    },
    stringBomb(n) {
      const s = 'y'.repeat(n);
      kept.push(s);
      return s.length;
    },
    wasm() {
      return [typeof globalThis.WebAssembly, typeof WebAssembly];
    },
    setPeer(p) {
      peer = p;
    },
    // Bounces a message between the two hostile vats on every delivery, forever.
    flood() {
      floods += 1;
      E(peer).flood();
      return floods;
    },
    floods() {
      return floods;
    },
    // Many sends from one delivery.
    fanOut(n) {
      for (let i = 0; i < n; i += 1) E(peer).floods();
      return n;
    },
    die() {
      exitVatWithFailure(Error('hostile vat told to die'));
    },
    throws() {
      throw Error('thrown on purpose \ud800');
    },
  });
  return root;
}
