// A mailbox vat for the hostile corpus: echoes inbound mail, acknowledges it, and can be told to
// die (so the corpus can check what happens to mail once no vat receives it).
import { Far } from '@endo/far';

export function buildRootObject(vatPowers) {
  const { D, exitVatWithFailure } = vatPowers;
  let mailbox;
  const nextNum = new Map();
  const oldest = new Map();
  const send = (peer, body) => {
    const num = nextNum.get(peer) ?? 1;
    nextNum.set(peer, num + 1);
    if (!oldest.has(peer)) oldest.set(peer, num);
    D(mailbox).add(peer, num, body);
    return num;
  };
  return Far('vattp', {
    registerMailboxDevice(device) {
      mailbox = device;
    },
    send,
    deliverInboundMessages(peer, messages) {
      let last = 0;
      for (const [num, body] of messages) {
        send(peer, `echo:${body}`);
        last = num;
      }
      if (last > 0) D(mailbox).setAcknum(peer, last);
    },
    deliverInboundAck(peer, ack) {
      const end = Math.min(ack, (nextNum.get(peer) ?? 1) - 1);
      let num = oldest.get(peer) ?? 1;
      for (; num <= end; num += 1) D(mailbox).remove(peer, num);
      oldest.set(peer, num);
    },
    die() {
      exitVatWithFailure(Error('vattp told to die'));
    },
  });
}
