package swingset

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "swingsetd.dev/gen/swingsetdv1"
)

// The queries read the keeper's store only (what the app has, committed or not): they never
// call the sidecar.

func (k *Keeper) get(key []byte, m proto.Message) (bool, error) {
	b, err := k.store.Get(key)
	if err != nil {
		return false, fmt.Errorf("swingset: store get %q: %w", key, err)
	}
	if b == nil {
		return false, nil
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return false, fmt.Errorf("swingset: store %q does not decode: %w", key, err)
	}
	return true, nil
}

// LastBlock is the last EndBlock's result as stored (its Response without stats_json and with
// replayed false); nil when no block was stored yet.
func (k *Keeper) LastBlock() (*BlockResult, error) {
	r := &pb.EndBlockResponse{}
	ok, err := k.get(keyLastBlock, r)
	if err != nil || !ok {
		return nil, err
	}
	return blockResult(r), nil
}

// Height is the height of the last EndBlock stored (0 before the first block).
func (k *Keeper) Height() (int64, error) {
	h, err := getUint64(k.store, keyHeight, 0)
	return int64(h), err
}

// Result is the result of the action with queue sequence number seq, once a block consumed it.
func (k *Keeper) Result(seq uint64) (*pb.ActionResult, bool, error) {
	r := &pb.ActionResult{}
	ok, err := k.get(resultKey(seq), r)
	if err != nil || !ok {
		return nil, false, err
	}
	return r, true, nil
}

// Queued is an action still waiting in the queue.
func (k *Keeper) Queued(seq uint64) (*pb.Action, bool, error) {
	a := &pb.Action{}
	ok, err := k.get(queueKey(seq), a)
	if err != nil || !ok {
		return nil, false, err
	}
	return a, true, nil
}

// Settled is the settled value of a host result promise by its kpid (an ActionResult's
// result_kpid), once it settled.
func (k *Keeper) Settled(kpid string) (*pb.PromiseResult, bool, error) {
	if kpid == "" {
		return nil, false, fmt.Errorf("swingset: Settled: empty kpid")
	}
	p := &pb.PromiseResult{}
	ok, err := k.get(settledKey(kpid), p)
	if err != nil || !ok {
		return nil, false, err
	}
	return p, true, nil
}

// Mailbox is a peer's outbound mailbox as of the last block that changed it.
func (k *Keeper) Mailbox(peer string) (*pb.MailboxState, bool, error) {
	if peer == "" {
		return nil, false, fmt.Errorf("swingset: Mailbox: empty peer")
	}
	m := &pb.MailboxState{}
	ok, err := k.get(mailboxKey(peer), m)
	if err != nil || !ok {
		return nil, false, err
	}
	return m, true, nil
}
