// The hostile corpus's bootstrap vat: wires vattp to the mailbox device and relays host calls.
import { Far, E } from '@endo/far';

export function buildRootObject(vatPowers) {
  const { D } = vatPowers;
  let vats;
  return Far('bootstrap', {
    async bootstrap(allVats, devices) {
      vats = allVats;
      D(devices.mailbox).registerInboundHandler(vats.vattp);
      await E(vats.vattp).registerMailboxDevice(devices.mailbox);
      await E(vats.hostile).setPeer(vats.hostile2);
      await E(vats.hostile2).setPeer(vats.hostile);
      return 'bootstrapped';
    },
    // Mails `body` to `peer` through vattp; resolves to its outbound number.
    send(peer, body) {
      return E(vats.vattp).send(peer, body);
    },
    relay(vatName, method, args) {
      return E(vats[vatName])[method](...args);
    },
    ping() {
      return 'pong';
    },
  });
}
