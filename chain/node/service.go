package node

import (
	"context"
	"encoding/hex"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// Register serves the node's Chain and Peer services on s.
func (n *Node) Register(s *grpc.Server) {
	chainpb.RegisterChainServer(s, chainService{n: n})
	chainpb.RegisterPeerServer(s, peerService{n: n})
}

// ServerOptions are the gRPC server options a node's listener needs (message sizes).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(maxRecvMsgBytes), grpc.MaxSendMsgSize(maxPeerMsgBytes)}
}

type peerService struct {
	chainpb.UnimplementedPeerServer
	n *Node
}

func (p peerService) StreamBlocks(req *chainpb.StreamBlocksRequest, srv chainpb.Peer_StreamBlocksServer) error {
	return p.n.StreamBlocks(req, srv)
}

func (p peerService) ReportAppHash(ctx context.Context, req *chainpb.ReportAppHashRequest) (*chainpb.ReportAppHashResponse, error) {
	return p.n.ReportAppHash(ctx, req)
}

func (p peerService) ForwardTxs(ctx context.Context, req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
	return p.n.ForwardTxs(ctx, req)
}

type chainService struct {
	chainpb.UnimplementedChainServer
	n *Node
}

func invalid(format string, args ...interface{}) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// Submit checks the tx and admits it (proposer) or forwards its bytes to the proposer.
func (c chainService) Submit(ctx context.Context, req *chainpb.SubmitRequest) (*chainpb.SubmitResponse, error) {
	n := c.n
	var raw []byte
	var tx *chainpb.Tx // set when given structured (tx bytes are checked whole)
	switch {
	case req.Tx != nil && len(req.TxBytes) > 0:
		return nil, invalid("tx, tx_bytes: give one of them, not both")
	case req.Tx != nil:
		b, err := encodeTx(req.Tx)
		if err != nil {
			return nil, invalid("tx: %v", err)
		}
		if len(b) > MaxTxBytes {
			return nil, invalid("tx: %d bytes encoded; at most %d", len(b), MaxTxBytes)
		}
		raw, tx = b, req.Tx
	case len(req.TxBytes) > 0:
		if err := checkTxBytes(req.TxBytes); err != nil {
			return nil, err
		}
		raw = req.TxBytes
	default:
		return nil, invalid("tx: missing (give tx or tx_bytes)")
	}
	if tx != nil {
		if err := checkTx(tx); err != nil {
			return nil, invalid("%v", err)
		}
	}
	if h := n.Halted(); h != nil {
		return nil, status.Errorf(codes.Unavailable, "halted at height %d: %s", h.Height, h.Reason)
	}
	var id string
	var err error
	if n.isProposer {
		ids, errs := n.admitBatch([][]byte{raw})
		id, err = ids[0], errs[0]
	} else {
		id, err = n.fwd.forward(ctx, raw)
	}
	if err != nil {
		return nil, err
	}
	return &chainpb.SubmitResponse{TxId: id}, nil
}

// checkTxBytes: Submit's checks of tx bytes (at most MaxTxBytes, a Tx in its canonical
// encoding, an action the keeper accepts), as an INVALID_ARGUMENT error.
func checkTxBytes(b []byte) error {
	tx, err := decodeTx(b)
	if err != nil {
		return invalid("tx_bytes: %v", err)
	}
	if err := checkTx(tx); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func parseTxID(s string) ([]byte, error) {
	if len(s) != 64 {
		return nil, invalid("tx_id: %q is not 64 hex digits", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, invalid("tx_id: %q is not 64 hex digits", s)
	}
	return b, nil
}

// GetTx: a committed tx with its result and settled value, or a pending one (proposer).
func (c chainService) GetTx(ctx context.Context, req *chainpb.GetTxRequest) (*chainpb.GetTxResponse, error) {
	n := c.n
	id, err := parseTxID(req.TxId)
	if err != nil {
		return nil, err
	}
	idHex := hex.EncodeToString(id)
	rec, err := n.store.Tx(id)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	if rec == nil {
		n.mu.Lock()
		pending := n.mp.ids[string(id)]
		n.mu.Unlock()
		if pending != nil {
			resp := &chainpb.GetTxResponse{TxId: idHex, Status: "pending"}
			if tx, err := decodeTx(pending); err == nil {
				resp.Tx = tx
			}
			return resp, nil
		}
		return nil, status.Errorf(codes.NotFound, "tx %s: not known to %s (not committed up to height %d%s)", idHex, n.cfg.ID, n.Height(),
			map[bool]string{true: ", not pending", false: "; pending txs are only known to the proposer"}[n.isProposer])
	}
	resp := &chainpb.GetTxResponse{TxId: idHex, Status: "committed", Height: rec.Height, Index: rec.Index,
		Seq: rec.Seq, Error: rec.Error}
	if tx, err := decodeTx(rec.Tx); err == nil {
		resp.Tx = tx
	}
	if rec.Seq == 0 {
		return resp, nil
	}
	r, ok, err := n.cfg.Queries.Result(rec.Seq)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	if ok {
		resp.Result = r
		if r.ResultKpid != "" {
			s, ok, err := n.cfg.Queries.Settled(r.ResultKpid)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "%v", err)
			}
			if ok {
				resp.Settled = s
			}
		}
	}
	return resp, nil
}

// GetBlock: a committed block (height 0 = the latest).
func (c chainService) GetBlock(ctx context.Context, req *chainpb.GetBlockRequest) (*chainpb.GetBlockResponse, error) {
	n := c.n
	h := req.Height
	top := n.Height()
	if h < 0 {
		return nil, invalid("height: %d is negative", h)
	}
	if h == 0 {
		h = top
		if h == 0 {
			return nil, status.Errorf(codes.NotFound, "no block committed yet")
		}
	}
	if h > top {
		return nil, status.Errorf(codes.NotFound, "height %d: %s is at height %d", h, n.cfg.ID, top)
	}
	b, err := n.store.Block(h)
	if err != nil || b == nil {
		return nil, status.Errorf(codes.Internal, "block %d: %v", h, err)
	}
	return &chainpb.GetBlockResponse{Block: b}, nil
}

// Status: this node's height and hashes, the proposer, the peers it knows of, the halt.
func (c chainService) Status(ctx context.Context, req *chainpb.StatusRequest) (*chainpb.StatusResponse, error) {
	n := c.n
	peers := n.peerList()
	n.mu.Lock()
	defer n.mu.Unlock()
	resp := &chainpb.StatusResponse{ChainId: n.g.ChainID, Id: n.cfg.ID, Proposer: n.proposer.ID,
		Height: n.height, AppHash: hex.EncodeToString(n.appHash), StateHash: n.stateHash,
		TimeUnix: n.timeUnix, Mempool: uint64(len(n.mp.queue))}
	for _, p := range peers {
		if p.Id != n.cfg.ID {
			resp.Peers = append(resp.Peers, p)
		}
	}
	if n.halt != nil {
		resp.Halted = true
		resp.HaltReason = n.halt.Reason
	}
	return resp, nil
}

// GetMailbox: a peer's outbound mailbox as of the last committed block that changed it.
func (c chainService) GetMailbox(ctx context.Context, req *chainpb.GetMailboxRequest) (*chainpb.GetMailboxResponse, error) {
	if req.Peer == "" {
		return nil, invalid("peer: empty")
	}
	m, ok, err := c.n.cfg.Queries.Mailbox(req.Peer)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "peer %q: no mailbox state (no outbound message or ack yet)", req.Peer)
	}
	return &chainpb.GetMailboxResponse{Mailbox: m}, nil
}
