package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// mempool is the proposer's queue of submitted txs, in arrival order (guarded by Node.mu). Each
// entry is also stored (blockstore m/) so a restarted proposer keeps it.
type mempool struct {
	queue       []mempoolEntry
	ids         map[string][]byte // tx id (raw) -> tx bytes, for queued and in-flight txs
	nextArrival uint64
	inFlight    int // entries at the head of queue taken by the block being executed
}

type mempoolEntry struct {
	arrival uint64
	id      string
	tx      []byte
}

func (n *Node) loadMempool() error {
	stored, err := n.store.Mempool()
	if err != nil {
		return err
	}
	for _, e := range stored {
		id := string(sha256Sum(e.Tx))
		if rec, err := n.store.Tx([]byte(id)); err != nil {
			return err
		} else if rec != nil {
			continue // committed already (cannot happen: the commit deletes it)
		}
		n.mp.queue = append(n.mp.queue, mempoolEntry{arrival: e.Arrival, id: id, tx: e.Tx})
		n.mp.ids[id] = e.Tx
		n.mp.nextArrival = e.Arrival + 1
	}
	if len(n.mp.queue) > 0 {
		n.cfg.Logf("mempool: %d txs waiting from before the restart", len(n.mp.queue))
	}
	return nil
}

// admitBatch puts checked txs into the mempool (proposer) under one lock and with one store
// write, and returns one result per tx: its id, or a gRPC status error. A tx already pending,
// committed or earlier in the same batch is ALREADY_EXISTS; the txs that do not fit in the
// mempool are RESOURCE_EXHAUSTED. Nothing is half-applied: the in-memory mempool changes only
// after the store write succeeded, and when it fails every tx of the batch is INTERNAL.
func (n *Node) admitBatch(raws [][]byte) ([]string, []error) {
	ids := make([]string, len(raws))
	errs := make([]error, len(raws))
	hashes := make([][]byte, len(raws))
	for i, raw := range raws {
		hashes[i] = sha256Sum(raw)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.halt != nil {
		err := status.Errorf(codes.Unavailable, "the chain is halted at height %d: %s", n.halt.Height, n.halt.Reason)
		for i := range errs {
			errs[i] = err
		}
		return ids, errs
	}
	var good []int
	var goodTxs [][]byte
	inBatch := map[string]bool{}
	for i, raw := range raws {
		id := hashes[i]
		idHex := hex.EncodeToString(id)
		if _, ok := n.mp.ids[string(id)]; ok || inBatch[string(id)] {
			errs[i] = status.Errorf(codes.AlreadyExists, "tx %s is already pending", idHex)
			continue
		}
		if rec, err := n.store.Tx(id); err != nil {
			errs[i] = status.Errorf(codes.Internal, "%v", err)
			continue
		} else if rec != nil {
			errs[i] = status.Errorf(codes.AlreadyExists, "tx %s is already committed at height %d", idHex, rec.Height)
			continue
		}
		if q := len(n.mp.queue) + len(good); q >= n.cfg.MaxMempool {
			errs[i] = status.Errorf(codes.ResourceExhausted, "the mempool is full (%d txs): retry later", q)
			continue
		}
		inBatch[string(id)] = true
		good = append(good, i)
		goodTxs = append(goodTxs, raw)
	}
	if len(good) == 0 {
		return ids, errs
	}
	first := n.mp.nextArrival
	if err := n.mempoolWrite(first, goodTxs); err != nil {
		// Every tx of the batch: a duplicate of one not written is not pending either.
		for i := range errs {
			errs[i] = status.Errorf(codes.Internal, "%v", err)
		}
		return ids, errs
	}
	for k, i := range good {
		id := string(hashes[i])
		n.mp.queue = append(n.mp.queue, mempoolEntry{arrival: first + uint64(k), id: id, tx: raws[i]})
		n.mp.ids[id] = raws[i]
		ids[i] = hex.EncodeToString(hashes[i])
	}
	n.mp.nextArrival = first + uint64(len(good))
	return ids, errs
}

// nextBlock builds the next block from the head of the mempool and marks those txs in flight.
func (n *Node) nextBlock() (*chainpb.Block, []uint64) {
	room := n.cfg.MaxBlockTxs
	if q, ok := n.cfg.App.(queueLener); ok {
		// Between blocks: the keeper's store holds no pending writes.
		if queued, err := q.QueueLen(); err == nil {
			if left := n.cfg.MaxQueued - int(queued); left < room {
				room = left
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.cfg.Now().Unix()
	if t < n.timeUnix {
		t = n.timeUnix
	}
	b := &chainpb.Block{Height: n.height + 1, TimeUnix: t, PrevAppHash: n.appHash, Proposer: n.cfg.ID}
	var included []uint64
	size := 0
	for _, e := range n.mp.queue {
		if len(b.Txs) >= room || (len(b.Txs) > 0 && size+len(e.tx) > MaxBlockTxBytes) {
			break
		}
		b.Txs = append(b.Txs, e.tx)
		included = append(included, e.arrival)
		size += len(e.tx)
	}
	n.mp.inFlight = len(b.Txs)
	return b, included
}

// takeProposed: the block a restarted proposer was executing (re-driven as it was): its txs
// come out of the mempool.
func (n *Node) takeProposed(b *chainpb.Block) []uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	inBlock := map[string]bool{}
	for _, tx := range b.Txs {
		inBlock[string(sha256Sum(tx))] = true
	}
	var included []uint64
	var rest []mempoolEntry
	for _, e := range n.mp.queue {
		if inBlock[e.id] {
			included = append(included, e.arrival)
			delete(n.mp.ids, e.id)
		} else {
			rest = append(rest, e)
		}
	}
	n.mp.queue = rest
	n.mp.inFlight = 0
	return included
}

// committedTxs drops the in-flight txs from the mempool after their block committed.
func (n *Node) committedTxs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range n.mp.queue[:n.mp.inFlight] {
		delete(n.mp.ids, e.id)
	}
	n.mp.queue = append([]mempoolEntry(nil), n.mp.queue[n.mp.inFlight:]...)
	n.mp.inFlight = 0
}

// propose is the proposer's loop: a block every interval (empty blocks too).
func (n *Node) propose(ctx context.Context, sidecarSaved int64) error {
	pending, err := n.store.Proposed()
	if err != nil {
		return err
	}
	h := n.Height()
	if pending != nil && pending.Height == h+1 {
		n.cfg.Logf("re-driving block %d as proposed before the restart (%d txs)", pending.Height, len(pending.Txs))
		included := n.takeProposed(pending)
		if err := n.execute(ctx, pending, nil, included); err != nil {
			return n.blockError(pending.Height, err)
		}
	} else if sidecarSaved == h+1 {
		return fmt.Errorf("node: the sidecar committed height %d but this proposer has no record of that block (n/proposed): the stores do not belong together", sidecarSaved)
	}
	ticker := time.NewTicker(n.cfg.BlockInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if n.Halted() != nil {
			return ErrHalted
		}
		b, included := n.nextBlock()
		if err := n.store.SetProposed(b); err != nil {
			return err
		}
		if err := n.execute(ctx, b, nil, included); err != nil {
			return n.blockError(b.Height, err)
		}
		n.committedTxs()
	}
}

// ---- Peer service, proposer side.

func (n *Node) checkPeer(chainID string, nodeID string) error {
	if chainID != n.g.ChainID {
		return status.Errorf(codes.FailedPrecondition, "chain_id %q: this node is on chain %q", chainID, n.g.ChainID)
	}
	if _, ok := n.g.Validator(nodeID); !ok {
		return status.Errorf(codes.InvalidArgument, "node_id %q is not a validator of chain %s", nodeID, n.g.ChainID)
	}
	return nil
}

// ForwardTxs admits a batch of txs a follower took with Submit: each is checked as Submit checks
// tx_bytes, and the good ones are admitted together (admitBatch). One result per tx, in order.
func (n *Node) ForwardTxs(ctx context.Context, req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
	if !n.isProposer {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not the proposer (%s is)", n.cfg.ID, n.proposer.ID)
	}
	if len(req.Txs) > MaxForwardTxs {
		return nil, status.Errorf(codes.InvalidArgument, "txs: %d in one call; at most %d", len(req.Txs), MaxForwardTxs)
	}
	resp := &chainpb.ForwardTxsResponse{Results: make([]*chainpb.ForwardedTx, len(req.Txs))}
	var raws [][]byte
	var at []int
	for i, raw := range req.Txs {
		if err := checkTxBytes(raw); err != nil {
			resp.Results[i] = forwardedErr(err)
			continue
		}
		raws = append(raws, raw)
		at = append(at, i)
	}
	ids, errs := n.admitBatch(raws)
	for k, i := range at {
		if errs[k] != nil {
			resp.Results[i] = forwardedErr(errs[k])
		} else {
			resp.Results[i] = &chainpb.ForwardedTx{TxId: ids[k]}
		}
	}
	return resp, nil
}

func forwardedErr(err error) *chainpb.ForwardedTx {
	st := status.Convert(err)
	return &chainpb.ForwardedTx{Code: uint32(st.Code()), Message: st.Message()}
}

// StreamBlocks serves committed blocks from req.FromHeight on, then each new one; a halt ends
// the stream with a Halt.
func (n *Node) StreamBlocks(req *chainpb.StreamBlocksRequest, srv chainpb.Peer_StreamBlocksServer) error {
	if err := n.checkPeer(req.ChainId, req.NodeId); err != nil {
		return err
	}
	if !bytes.Equal(req.GenesisAppHash, n.genesisHash) {
		return status.Errorf(codes.FailedPrecondition, "genesis app hash %x: this node's genesis is %x (another genesis file)", req.GenesisAppHash, n.genesisHash)
	}
	if req.FromHeight < 1 {
		return status.Errorf(codes.InvalidArgument, "from_height %d: must be at least 1", req.FromHeight)
	}
	n.notePeer(req.NodeId, req.FromHeight-1, nil)
	next := req.FromHeight
	for {
		changed := n.wait()
		n.mu.Lock()
		height, halt := n.height, n.halt
		n.mu.Unlock()
		if halt != nil && n.haltSavedNow() {
			return srv.Send(&chainpb.StreamBlocksResponse{Msg: &chainpb.StreamBlocksResponse_Halt{Halt: halt}})
		}
		for ; next <= height; next++ {
			b, err := n.store.Block(next)
			if err != nil {
				return status.Errorf(codes.Internal, "%v", err)
			}
			if b == nil {
				return status.Errorf(codes.Internal, "block %d is missing from the store", next)
			}
			if err := srv.Send(&chainpb.StreamBlocksResponse{Msg: &chainpb.StreamBlocksResponse_Block{Block: b}}); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-srv.Context().Done():
			return srv.Context().Err()
		}
	}
}

func (n *Node) haltSavedNow() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.haltSaved
}

func (n *Node) notePeer(id string, height int64, appHash []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[id]
	if height >= p.Height || appHash != nil {
		p.Height = height
		if appHash != nil {
			p.AppHash = hex.EncodeToString(appHash)
		}
	}
	p.SeenUnixMs = time.Now().UnixNano() / 1e6
}

func (n *Node) peerList() []*chainpb.PeerStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*chainpb.PeerStatus
	for _, v := range n.g.Validators {
		out = append(out, proto.Clone(n.peers[v.ID]).(*chainpb.PeerStatus))
	}
	return out
}

// ReportAppHash: a follower's app hash at a height it committed (or was about to commit). The
// proposer compares it with its own and halts the chain on a mismatch.
func (n *Node) ReportAppHash(ctx context.Context, req *chainpb.ReportAppHashRequest) (*chainpb.ReportAppHashResponse, error) {
	if err := n.checkPeer(req.ChainId, req.NodeId); err != nil {
		return nil, err
	}
	if !n.isProposer {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not the proposer (%s is)", n.cfg.ID, n.proposer.ID)
	}
	if req.NodeId == n.cfg.ID {
		return nil, status.Errorf(codes.InvalidArgument, "node_id %q is this node", req.NodeId)
	}
	if req.Height < 0 || len(req.AppHash) != 32 {
		return nil, status.Errorf(codes.InvalidArgument, "height %d / app_hash of %d bytes: want height >= 0 and 32 bytes", req.Height, len(req.AppHash))
	}
	n.mu.Lock()
	mine := n.height
	n.mu.Unlock()
	if req.Height > mine {
		return nil, status.Errorf(codes.FailedPrecondition, "height %d is above the proposer's %d", req.Height, mine)
	}
	var ours []byte
	if req.Height == 0 {
		ours = n.genesisHash
	} else {
		b, err := n.store.Block(req.Height)
		if err != nil || b == nil {
			return nil, status.Errorf(codes.Internal, "block %d: %v", req.Height, err)
		}
		ours = b.AppHash
	}
	n.notePeer(req.NodeId, req.Height, req.AppHash)
	if !bytes.Equal(ours, req.AppHash) {
		n.cfg.Logf("app hash mismatch reported by %s at height %d: %x, the proposer's %x", req.NodeId, req.Height, req.AppHash, ours)
		if n.cfg.HaltOnMismatch {
			n.mu.Lock()
			if n.halt == nil || n.halt.Height == req.Height {
				n.mismatch[req.NodeId] = req.AppHash
				n.haltChainLocked(req.Height, n.mismatchReasonLocked(req.Height, ours))
			}
			n.mu.Unlock()
		}
	}
	resp := &chainpb.ReportAppHashResponse{Peers: n.peerList()}
	if h := n.Halted(); h != nil && n.haltSavedNow() {
		resp.Halt = h
	}
	return resp, nil
}

// mismatchReasonLocked: "app hash mismatch at height H: val2 has X; val0 (proposer) has Y;
// agree with the proposer: val1, val3; not yet at H: ...".
func (n *Node) mismatchReasonLocked(height int64, ours []byte) string {
	var ids []string
	for id := range n.mismatch {
		ids = append(ids, id)
	}
	sort.Strings(ids) // report order only
	var b strings.Builder
	fmt.Fprintf(&b, "app hash mismatch at height %d:", height)
	for _, id := range ids {
		fmt.Fprintf(&b, " %s has %x;", id, n.mismatch[id])
	}
	fmt.Fprintf(&b, " %s (proposer) has %x", n.cfg.ID, ours)
	var agree, behind []string
	for _, v := range n.g.Validators {
		if v.ID == n.cfg.ID || n.mismatch[v.ID] != nil {
			continue
		}
		// A follower checks every block against the proposer's app hash before committing it,
		// so one that reported a height >= H agreed at H.
		if p := n.peers[v.ID]; p.Height >= height && p.SeenUnixMs != 0 {
			agree = append(agree, v.ID)
		} else {
			behind = append(behind, v.ID)
		}
	}
	if len(agree) > 0 {
		fmt.Fprintf(&b, "; agree with the proposer: %s", strings.Join(agree, ", "))
	}
	if len(behind) > 0 {
		fmt.Fprintf(&b, "; not known to have reached height %d: %s", height, strings.Join(behind, ", "))
	}
	return b.String()
}
