package node

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// Forwarding: a follower's Submits reach the proposer in ForwardTxs calls.
const (
	// MaxForwardTxs: txs per ForwardTxs call (the proposer refuses more).
	MaxForwardTxs = 4096
	// maxForwardMsgBytes: a follower's ForwardTxsRequest, encoded, stays within this (one tx of
	// MaxTxBytes fits alone), below what the proposer's server receives (maxRecvMsgBytes).
	maxForwardMsgBytes = MaxTxBytes + 64
	maxRecvMsgBytes    = MaxTxBytes + 4096 // one message a node's server takes (Submit, ForwardTxs)
	forwardWorkers     = 4                 // a follower's ForwardTxs calls in flight at most
	forwardTimeout     = 30 * time.Second  // one ForwardTxs call
)

// forwarder takes a follower's checked Submits to the proposer in batches (Peer.ForwardTxs).
// forwardWorkers goroutines, started by the first Submit, each take the first waiting tx and
// every other one already waiting, up to MaxForwardTxs and maxForwardMsgBytes (a tx that does not
// fit stays first in line for the next call), make one call and answer each Submit. There is no
// timer: a lone tx goes at once, and what queues while calls are in flight goes in the next one.
type forwarder struct {
	calls, txs uint64 // atomic: ForwardTxs calls made and the txs they carried

	n       *Node
	mu      sync.Mutex
	cond    *sync.Cond // signalled when a tx is queued or the forwarder closes
	queue   []*fwdReq
	started bool
	closed  bool
	ctx     context.Context // ends at close: calls in flight are cancelled
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type fwdReq struct {
	ctx  context.Context // the Submit's
	raw  []byte
	done chan fwdAnswer // buffered: the answer never waits for the Submit
}

type fwdAnswer struct {
	id  string
	err error
}

func newForwarder(n *Node) *forwarder {
	f := &forwarder{n: n}
	f.cond = sync.NewCond(&f.mu)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// forward hands a checked tx to the proposer and returns its id, or a gRPC status error: the
// proposer's answer (its code, the message naming the proposer) or the call's error. When ctx
// ends first, forward returns at once with ctx's error; the tx may still be admitted (it is
// not sent when ctx ended before a call took it).
func (f *forwarder) forward(ctx context.Context, raw []byte) (string, error) {
	r := &fwdReq{ctx: ctx, raw: raw, done: make(chan fwdAnswer, 1)}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return "", status.Errorf(codes.Unavailable, "%s is shutting down", f.n.cfg.ID)
	}
	if !f.started {
		f.started = true
		for i := 0; i < forwardWorkers; i++ {
			f.wg.Add(1)
			go f.work()
		}
	}
	f.queue = append(f.queue, r)
	f.cond.Signal()
	f.mu.Unlock()
	select {
	case a := <-r.done:
		return a.id, a.err
	case <-ctx.Done():
		return "", status.FromContextError(ctx.Err()).Err()
	}
}

// close stops the workers after their calls in flight (cancelled), answers the txs still
// queued with UNAVAILABLE and logs how many txs went in how many calls.
func (f *forwarder) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	left := f.queue
	f.queue = nil
	f.cond.Broadcast()
	f.mu.Unlock()
	f.cancel()
	for _, r := range left {
		r.done <- fwdAnswer{err: status.Errorf(codes.Unavailable, "%s is shutting down", f.n.cfg.ID)}
	}
	f.wg.Wait()
	if calls, txs := f.stats(); calls > 0 {
		f.n.cfg.Logf("forwarded %d txs to the proposer in %d ForwardTxs calls (%.1f per call)", txs, calls, float64(txs)/float64(calls))
	}
}

// stats: the ForwardTxs calls made so far and the txs they carried.
func (f *forwarder) stats() (calls, txs uint64) {
	return atomic.LoadUint64(&f.calls), atomic.LoadUint64(&f.txs)
}

func (f *forwarder) work() {
	defer f.wg.Done()
	for {
		batch := f.take()
		if batch == nil {
			return
		}
		f.send(batch)
	}
}

// forwardCost: a tx's share of an encoded ForwardTxsRequest (tag, length, bytes).
func forwardCost(raw []byte) int {
	return 1 + protowire.SizeBytes(len(raw))
}

// take waits for queued txs and takes a batch from the head of the queue (nil once closed).
// Txs whose Submit has ended are dropped unsent.
func (f *forwarder) take() []*fwdReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		for len(f.queue) == 0 && !f.closed {
			f.cond.Wait()
		}
		if f.closed {
			return nil
		}
		var batch []*fwdReq
		size, k := 0, 0
		for ; k < len(f.queue) && len(batch) < MaxForwardTxs; k++ {
			r := f.queue[k]
			if r.ctx.Err() != nil {
				continue
			}
			c := forwardCost(r.raw)
			if len(batch) > 0 && size+c > maxForwardMsgBytes {
				break
			}
			batch = append(batch, r)
			size += c
		}
		for i := 0; i < k; i++ {
			f.queue[i] = nil
		}
		f.queue = f.queue[k:]
		if len(f.queue) == 0 {
			f.queue = nil
		}
		if len(batch) > 0 {
			return batch
		}
	}
}

// send makes one ForwardTxs call for batch and answers each of its Submits.
func (f *forwarder) send(batch []*fwdReq) {
	n := f.n
	atomic.AddUint64(&f.calls, 1)
	atomic.AddUint64(&f.txs, uint64(len(batch)))
	all := func(err error) {
		for _, r := range batch {
			r.done <- fwdAnswer{err: err}
		}
	}
	pc, err := n.proposerClient()
	if err != nil {
		all(status.Errorf(codes.Unavailable, "proposer %s: %v", n.proposer.ID, err))
		return
	}
	req := &chainpb.ForwardTxsRequest{Txs: make([][]byte, len(batch))}
	for i, r := range batch {
		req.Txs[i] = r.raw
	}
	ctx, cancel := context.WithTimeout(f.ctx, forwardTimeout)
	resp, err := pc.peer.ForwardTxs(ctx, req)
	cancel()
	if err != nil {
		st := status.Convert(err)
		all(status.Errorf(st.Code(), "forwarded to the proposer %s (%s): %s", n.proposer.ID, n.proposer.Addr, st.Message()))
		return
	}
	if len(resp.Results) != len(batch) {
		all(status.Errorf(codes.Internal, "the proposer %s answered %d results for %d forwarded txs", n.proposer.ID, len(resp.Results), len(batch)))
		return
	}
	for i, r := range batch {
		res := resp.Results[i]
		switch want := TxID(r.raw); {
		case res.Code > uint32(codes.Unauthenticated):
			r.done <- fwdAnswer{err: status.Errorf(codes.Internal, "the proposer %s answered code %d for tx %s", n.proposer.ID, res.Code, want)}
		case res.Code != uint32(codes.OK):
			r.done <- fwdAnswer{err: status.Errorf(codes.Code(res.Code), "forwarded to the proposer %s (%s): %s", n.proposer.ID, n.proposer.Addr, res.Message)}
		case res.TxId != want:
			r.done <- fwdAnswer{err: status.Errorf(codes.Internal, "the proposer answered tx id %s for tx %s", res.TxId, want)}
		default:
			r.done <- fwdAnswer{id: res.TxId}
		}
	}
}
