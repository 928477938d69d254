// The demo chain's bootstrap vat: wires the other vats and the mailbox device, then serves the
// host's calls (call_vat actions) by relaying them to the other vats.
import { Far, E } from '@endo/far';

export function buildRootObject(vatPowers) {
  const { D } = vatPowers;
  let vats;

  return Far('bootstrap', {
    // Called once, by the kernel, in the first block.
    async bootstrap(allVats, devices) {
      vats = allVats;
      // Inbound mail goes to vattp, which also owns the outbound side of the mailbox.
      D(devices.mailbox).registerInboundHandler(vats.vattp);
      await E(vats.vattp).registerMailboxDevice(devices.mailbox);
      return 'bootstrapped';
    },
    // Queues an outbound message to `peer`; resolves to its number.
    send(peer, body) {
      return E(vats.vattp).send(peer, body);
    },
    // Forwards a call to another vat's root object and resolves with its result.
    relay(vatName, method, args) {
      const target = vats[vatName];
      if (target === undefined) throw Error(`no vat named ${vatName}`);
      return E(target)[method](...args);
    },
    ping() {
      return 'pong';
    },
  });
}
