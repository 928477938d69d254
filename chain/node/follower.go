package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// peerClient is a follower's connection to the proposer.
type peerClient struct {
	conn *grpc.ClientConn
	peer chainpb.PeerClient
}

// Dial connects (lazily) to a swingchain node's --listen address.
func Dial(addr string) (*grpc.ClientConn, error) {
	return grpc.Dial(addr, grpc.WithInsecure(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxPeerMsgBytes),
			grpc.MaxCallSendMsgSize(maxPeerMsgBytes)))
}

func (n *Node) proposerClient() (*peerClient, error) {
	n.peerOnce.Do(func() {
		conn, err := Dial(n.proposer.Addr)
		if err != nil {
			n.peerErr = err
			return
		}
		n.peerC = &peerClient{conn: conn, peer: chainpb.NewPeerClient(conn)}
	})
	return n.peerC, n.peerErr
}

// Close stops the node's forwarder (a Submit still waiting is UNAVAILABLE) and releases its
// connection to the proposer.
func (n *Node) Close() error {
	if n.fwd != nil {
		n.fwd.close()
	}
	if n.peerC != nil {
		return n.peerC.conn.Close()
	}
	return nil
}

// follow streams the proposer's blocks from this node's height on and executes them, forever:
// a broken stream is re-opened with backoff (catching up from where this node stands).
func (n *Node) follow(ctx context.Context) error {
	pc, err := n.proposerClient()
	if err != nil {
		return err
	}
	reports := make(chan struct{}, 1)
	go n.reporter(ctx, pc, reports)
	wait := n.cfg.RetryInitial
	lastErr := ""
	for {
		if n.Halted() != nil {
			return ErrHalted
		}
		progressed, err := n.followOnce(ctx, pc, reports)
		if errors.Is(err, ErrHalted) || ctx.Err() != nil {
			return err
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if progressed {
			wait = n.cfg.RetryInitial
		}
		if msg := fmt.Sprint(err); msg != lastErr {
			n.cfg.Logf("stream from the proposer %s (%s): %v; retrying", n.proposer.ID, n.proposer.Addr, err)
			lastErr = msg
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait *= 2
		if wait > n.cfg.RetryMax {
			wait = n.cfg.RetryMax
		}
	}
}

// fatalError: stop following (the node cannot go on).
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

func (n *Node) followOnce(ctx context.Context, pc *peerClient, reports chan struct{}) (bool, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := n.Height() + 1
	stream, err := pc.peer.StreamBlocks(sctx, &chainpb.StreamBlocksRequest{ChainId: n.g.ChainID,
		GenesisAppHash: n.genesisHash, NodeId: n.cfg.ID, FromHeight: from})
	if err != nil {
		return false, err
	}
	progressed := false
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return progressed, errors.New("the proposer ended the stream")
		}
		if err != nil {
			if status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.InvalidArgument {
				// Another chain or genesis: retrying cannot help.
				return progressed, &fatalError{fmt.Errorf("node: the proposer %s refuses this node: %v", n.proposer.ID, status.Convert(err).Message())}
			}
			return progressed, err
		}
		switch m := msg.Msg.(type) {
		case *chainpb.StreamBlocksResponse_Halt:
			n.haltChain(m.Halt.Height, m.Halt.Reason)
			return progressed, ErrHalted
		case *chainpb.StreamBlocksResponse_Block:
			cb := m.Block
			if cb.GetBlock() == nil {
				return progressed, errors.New("the proposer sent a block message without a block")
			}
			if cb.Block.Height <= n.Height() {
				continue // already have it (a stream re-opened while a block was in flight)
			}
			if want := n.Height() + 1; cb.Block.Height != want {
				return progressed, fmt.Errorf("the proposer sent block %d; this node needs %d next", cb.Block.Height, want)
			}
			err := n.execute(ctx, cb.Block, cb.AppHash, nil)
			var mm *errMismatch
			if errors.As(err, &mm) {
				n.onMismatch(ctx, pc, mm)
				return progressed, ErrHalted
			}
			if err != nil {
				if ctx.Err() != nil {
					return progressed, ctx.Err()
				}
				if e := n.blockError(cb.Block.Height, err); errors.Is(e, ErrHalted) {
					return progressed, ErrHalted
				}
				return progressed, &fatalError{err}
			}
			progressed = true
			select {
			case reports <- struct{}{}:
			default:
			}
		default:
			return progressed, errors.New("the proposer sent an empty stream message")
		}
	}
}

// onMismatch: this follower computed another app hash than the proposer. It halts (recorded),
// and tells the proposer, which halts the chain; the proposer's reason (naming every node it
// knows of) replaces this node's own when it answers.
func (n *Node) onMismatch(ctx context.Context, pc *peerClient, mm *errMismatch) {
	n.haltChain(mm.height, fmt.Sprintf("app hash mismatch at height %d: %s has %x; %s (proposer) has %x",
		mm.height, n.cfg.ID, mm.mine, n.proposer.ID, mm.theirs))
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, reportTimeout)
		resp, err := pc.peer.ReportAppHash(rctx, &chainpb.ReportAppHashRequest{ChainId: n.g.ChainID,
			NodeId: n.cfg.ID, Height: mm.height, AppHash: mm.mine})
		cancel()
		if err == nil {
			n.setPeers(resp.Peers)
			if resp.Halt != nil && resp.Halt.Height == mm.height {
				n.haltChain(resp.Halt.Height, resp.Halt.Reason)
			}
			return
		}
		n.cfg.Logf("reporting the mismatch to the proposer: %v", err)
		time.Sleep(n.cfg.RetryInitial)
	}
}

// reporter sends this node's app hash to the proposer after each block (coalesced) and every
// reportEvery, and keeps the peers' heights the proposer answers with.
func (n *Node) reporter(ctx context.Context, pc *peerClient, kick <-chan struct{}) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
		n.mu.Lock()
		h, ah, halted := n.height, n.appHash, n.halt != nil
		n.mu.Unlock()
		if halted {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, reportTimeout)
		resp, err := pc.peer.ReportAppHash(rctx, &chainpb.ReportAppHashRequest{ChainId: n.g.ChainID,
			NodeId: n.cfg.ID, Height: h, AppHash: ah})
		cancel()
		if err != nil {
			continue
		}
		n.setPeers(resp.Peers)
		if resp.Halt != nil {
			n.haltChain(resp.Halt.Height, resp.Halt.Reason)
			return
		}
	}
}

// setPeers: the proposer's view of the validators (this node's own entry stays its own).
func (n *Node) setPeers(ps []*chainpb.PeerStatus) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now().UnixNano() / 1e6
	for _, p := range ps {
		if p.Id == n.cfg.ID {
			continue
		}
		if cur, ok := n.peers[p.Id]; ok {
			cur.Height, cur.AppHash, cur.SeenUnixMs = p.Height, p.AppHash, p.SeenUnixMs
			if p.Id == n.proposer.ID {
				cur.SeenUnixMs = now
			}
		}
	}
}
