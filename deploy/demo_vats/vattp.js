// The demo chain's mailbox vat: the mailbox device's inbound handler. Every inbound message B
// is answered with an outbound "echo:B" and acknowledged; a peer's ack removes the outbound
// messages it covers.
import { Far } from '@endo/far';

export function buildRootObject(vatPowers) {
  const { D } = vatPowers;
  let mailbox; // the mailbox device node, handed over by the bootstrap vat
  const nextNum = new Map(); // peer -> number of the next outbound message
  const oldest = new Map(); // peer -> lowest outbound number not yet removed

  const send = (peer, body) => {
    if (mailbox === undefined) throw Error('vattp: no mailbox device yet');
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
  });
}
