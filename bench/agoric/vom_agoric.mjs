// The phases of bench/vom_bench.cc run by Agoric's own SwingSet (@agoric/swingset-vat, its
// `local` worker: liveslots in this Node process, unmetered; its in-memory swing-store) on
// the same vat code (../vom_vat.js), so the rates can be compared (issue 15: ours >= 20x).
// A rate is operations over the time of `controller.run()` for the phase's deliveries.
//
//   cd bench/agoric && npm install && node vom_agoric.mjs [K] [BIG]   (20000, 1000000)
import '@endo/init/debug.js';
import { fileURLToPath } from 'url';
import { performance } from 'perf_hooks';
import { buildVatController } from '@agoric/swingset-vat';

const k = Number(process.argv[2] || 20000);
const big = Number(process.argv[3] || 1000000);
const only = process.argv[4] || '';
const sourceSpec = fileURLToPath(new URL('../vom_vat.js', import.meta.url));
const config = {
  defaultManagerType: 'local',
  defaultReapInterval: 1000,
  vats: {
    vom: { sourceSpec },
    reaper: { sourceSpec, creationOptions: { reapInterval: 1 } },
  },
};
const c = await buildVatController(config, []);
await c.run();

async function phase(vat, method, argsList) {
  const t0 = performance.now();
  const kpids = argsList.map(a => c.queueToVatRoot(vat, method, a, 'panic'));
  await c.run();
  const ms = performance.now() - t0;
  for (const kp of kpids) {
    if (c.kpStatus(kp) !== 'fulfilled') throw Error(`${vat}.${method}: ${c.kpStatus(kp)}`);
  }
  return ms;
}
const report = (what, ops, ms) =>
  console.log(`| ${what} | ${ops} | ${ms.toFixed(0)} | ${(ops / (ms / 1000)).toFixed(0)} |`);
const repeat = (args, n) => Array.from({ length: n }, () => args);

console.log('| phase | operations | ms | operations/s |\n|---|---|---|---|');
if (!only || only === 'create') report('create virtual objects', 10 * k, await phase('vom', 'create', repeat([k], 10)));
if (!only || only === 'call') report('method calls on one virtual object', 10 * k, await phase('vom', 'call', repeat([k], 10)));
if (!only || only === '1k') {
  const fills = Array.from({ length: 20 }, (_, s) => [`small${s}`, 0, 1000]);
  report('init, stores of 1,000', 20000, await phase('vom', 'init', fills));
  for (const op of ['get', 'set', 'has']) {
    report(`${op} @1,000`, 10 * k, await phase('vom', op, repeat(['small0', 1000, k], 10)));
  }
}
if (!only || only === 'big') {
  const fills = [];
  for (let from = 0; from < big; from += k) fills.push(['big', from, k]);
  report(`init, 0 to ${big}`, big, await phase('vom', 'init', fills));
  for (const op of ['get', 'set', 'has']) {
    report(`${op} @${big}`, 10 * k, await phase('vom', op, repeat(['big', big, k], 10)));
  }
}
if (!only || only === 'reap') {
  const holds = [];
  for (let from = 0; from < 100000; from += k) holds.push([from, k]);
  await phase('reaper', 'hold', holds);
  const empty = await phase('reaper', 'ping', [[]]);
  const reap = await phase('reaper', 'drop', [[]]);
  console.log(`| one reap after 100000 virtual objects (and their map store) die | 1 | ${(reap - empty).toFixed(0)} (an empty reap: ${empty.toFixed(0)}) | |`);
}
await c.shutdown();
