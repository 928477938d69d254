// Package node is the swingchain validator node: it embeds the keeper (chain/swingset) over its
// own LevelDB store (chain/blockstore), orders transactions into blocks when it is the proposer
// (the first validator of the genesis) or follows the proposer's blocks otherwise, executes
// every block on its own sidecar, compares app hashes, and serves the tx service (Chain) and the
// sequencer's peer service (Peer) of chain/proto/swingchain/v1/chain.proto.
//
// This is ordering, not BFT consensus: the proposer decides the blocks alone, and a faulty or
// malicious proposer is not tolerated. What the nodes check is that every one of them computes
// the same app hash for every block; on any mismatch the chain halts.
//
// Halting: a mismatch halts the chain. The node that sees it (a follower comparing its app hash
// with the proposer's before committing, or the proposer receiving a follower's report) records
// the halt in its store and stops executing; the proposer stops making blocks and tells every
// follower (stream and report answers), which record it too. A halted node stays up, answers
// Status with the reason (the height and which nodes disagree) and Submit with UNAVAILABLE, and
// stays halted across restarts until started with --clear-halt. A sidecar that refuses the
// lifecycle (the keeper's HaltError) halts this node only, without a record: once the sidecar is
// fixed, a restart resumes.
package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/genesis"
	"swingsetd.dev/chain/swingset"
	chainpb "swingsetd.dev/gen/swingchainv1"
	pb "swingsetd.dev/gen/swingsetdv1"
)

// queueLener is the keeper's QueueLen (optional for an App).
type queueLener interface {
	QueueLen() (uint64, error)
}

// App is the keeper's block lifecycle as the node drives it (*swingset.Keeper).
type App interface {
	InitChain(ctx context.Context, g *pb.Genesis) (int64, error)
	BeginBlock(ctx context.Context, height int64, blockTime time.Time) error
	DeliverTx(ctx context.Context, action *pb.Action) (uint64, error)
	EndBlock(ctx context.Context) (*swingset.BlockResult, error)
	Commit(ctx context.Context) error
}

// Queries reads the keeper's committed state (a *swingset.Keeper over Store.Committed()).
type Queries interface {
	Result(seq uint64) (*pb.ActionResult, bool, error)
	Settled(kpid string) (*pb.PromiseResult, bool, error)
	Mailbox(peer string) (*pb.MailboxState, bool, error)
}

// Limits on what the proposer accepts and puts in a block. They shape blocks only on the
// proposer; followers execute whatever block they are given.
const (
	MaxTxBytes       = swingset.MaxActionBytes + 1024
	DefaultBlockTxs  = 10000    // txs per block (the sidecar's actions per EndBlock)
	MaxBlockTxBytes  = 15 << 20 // tx bytes per block
	DefaultMempool   = 200000   // txs waiting at the proposer
	DefaultMaxQueued = 20000    // keeper queue length above which blocks take no more txs
	maxPeerMsgBytes  = 64 << 20 // peer stream messages (a block with its txs)
	reportEvery      = 2 * time.Second
	reportTimeout    = 5 * time.Second
	defaultRetryWait = 200 * time.Millisecond
	maxRetryWait     = 5 * time.Second
)

// Config of a node.
type Config struct {
	ID             string
	Genesis        *genesis.Genesis
	Store          *blockstore.Store
	App            App
	Queries        Queries
	BlockInterval  time.Duration // proposer: time between blocks (0 = 1 s)
	HaltOnMismatch bool          // false: log a mismatch and go on
	MaxBlockTxs    int           // 0 = DefaultBlockTxs
	MaxMempool     int           // 0 = DefaultMempool
	// MaxQueued: the proposer adds txs to a block only while the keeper's action queue (actions
	// delivered but not yet consumed by the sidecar, App.QueueLen when the App has it) is below
	// this, so a sidecar that falls behind fills the mempool and Submit says RESOURCE_EXHAUSTED
	// instead of the queue growing without bound. 0 = DefaultMaxQueued.
	MaxQueued int
	Logf      func(format string, args ...interface{})
	// OnReady, when set, is called once Run has initialized the sidecar and the two heights
	// fit (the node then makes or follows blocks): the command's health check turns SERVING.
	OnReady func()
	Now     func() time.Time // the proposer's clock (tests); nil = time.Now
	// RetryInitial and RetryMax: the follower's reconnect backoff (0 = 200 ms, 5 s).
	RetryInitial, RetryMax time.Duration
}

// Node is one validator.
type Node struct {
	cfg         Config
	g           *genesis.Genesis
	genesisHash []byte
	proposer    genesis.Validator
	isProposer  bool
	store       *blockstore.Store

	mu        sync.Mutex
	height    int64
	appHash   []byte
	stateHash string
	timeUnix  int64
	halt      *chainpb.Halt
	haltSaved bool                           // the halt is in the store (a chain halt)
	mismatch  map[string][]byte              // proposer: nodes that reported another hash at the halt height
	changed   chan struct{}                  // closed and replaced at each commit or halt
	peers     map[string]*chainpb.PeerStatus // by id
	mp        mempool
	// mempoolWrite stores admitted txs (the store's AddMempoolBatch; tests fail it).
	mempoolWrite func(first uint64, txs [][]byte) error
	fwd          *forwarder // a follower's Submits on their way to the proposer (nil on the proposer)

	peerOnce sync.Once
	peerC    *peerClient
	peerErr  error
}

// ErrHalted is returned by Run when the node halted (it keeps serving Status until stopped).
var ErrHalted = errors.New("node: halted")

// New checks the store against the genesis and loads the node's committed state.
func New(cfg Config) (*Node, error) {
	if cfg.Genesis == nil || cfg.Store == nil || cfg.App == nil || cfg.Queries == nil {
		return nil, errors.New("node: Config needs Genesis, Store, App and Queries")
	}
	if _, ok := cfg.Genesis.Validator(cfg.ID); !ok {
		return nil, fmt.Errorf("node: --id %q is not a validator of the genesis (validators: %s)", cfg.ID, validatorIDs(cfg.Genesis))
	}
	if cfg.BlockInterval == 0 {
		cfg.BlockInterval = time.Second
	}
	if cfg.BlockInterval < 0 {
		return nil, fmt.Errorf("node: block interval %s is negative", cfg.BlockInterval)
	}
	if cfg.MaxBlockTxs <= 0 {
		cfg.MaxBlockTxs = DefaultBlockTxs
	}
	if cfg.MaxBlockTxs > swingset.MaxActionsPerBlock {
		return nil, fmt.Errorf("node: at most %d txs per block", swingset.MaxActionsPerBlock)
	}
	if cfg.MaxMempool <= 0 {
		cfg.MaxMempool = DefaultMempool
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...interface{}) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryInitial <= 0 {
		cfg.RetryInitial = defaultRetryWait
	}
	if cfg.RetryMax < cfg.RetryInitial {
		cfg.RetryMax = maxRetryWait
		if cfg.RetryMax < cfg.RetryInitial {
			cfg.RetryMax = cfg.RetryInitial
		}
	}
	gh, err := GenesisAppHash(cfg.Genesis)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, g: cfg.Genesis, genesisHash: gh, proposer: cfg.Genesis.Validators[0],
		isProposer: cfg.ID == cfg.Genesis.Proposer(), store: cfg.Store,
		changed: make(chan struct{}), peers: map[string]*chainpb.PeerStatus{},
		mismatch: map[string][]byte{}}
	n.mp.ids = map[string][]byte{}
	n.mempoolWrite = n.store.AddMempoolBatch
	if !n.isProposer {
		n.fwd = newForwarder(n)
	}
	stored, err := n.store.GenesisAppHash()
	if err != nil {
		return nil, err
	}
	switch {
	case stored == nil:
		if h, err := n.store.Height(); err != nil || h != 0 {
			return nil, fmt.Errorf("node: store at height %d has no genesis record (%v)", h, err)
		}
		if err := n.store.SetGenesisAppHash(gh); err != nil {
			return nil, err
		}
	case !bytes.Equal(stored, gh):
		return nil, fmt.Errorf("node: the store was created with another genesis (genesis app hash %x, this genesis %x): use another --home or the genesis it was made with", stored, gh)
	}
	if n.height, err = n.store.Height(); err != nil {
		return nil, err
	}
	n.appHash = gh
	if n.height > 0 {
		b, err := n.store.Block(n.height)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return nil, fmt.Errorf("node: store at height %d has no block %d", n.height, n.height)
		}
		n.appHash, n.stateHash, n.timeUnix = b.AppHash, b.StateHash, b.Block.TimeUnix
	}
	if n.halt, err = n.store.Halt(); err != nil {
		return nil, err
	}
	n.haltSaved = n.halt != nil
	for _, v := range n.g.Validators {
		n.peers[v.ID] = &chainpb.PeerStatus{Id: v.ID, Addr: v.Addr}
	}
	n.peers[cfg.ID].Height = n.height
	n.peers[cfg.ID].AppHash = hex.EncodeToString(n.appHash)
	if n.isProposer {
		if err := n.loadMempool(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func validatorIDs(g *genesis.Genesis) string {
	var b bytes.Buffer
	for i, v := range g.Validators {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.ID)
	}
	return b.String()
}

// Height is the last committed height.
func (n *Node) Height() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.height
}

// Halted returns the halt record, nil while running.
func (n *Node) Halted() *chainpb.Halt {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.halt == nil {
		return nil
	}
	return proto.Clone(n.halt).(*chainpb.Halt)
}

// wait returns a channel closed at the next commit or halt.
func (n *Node) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

func (n *Node) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// Run initializes the sidecar, then makes blocks (proposer) or follows the proposer until ctx
// ends (nil) or the node halts (ErrHalted; the caller keeps serving until told to stop). Any
// other error (the store failing, a sidecar at a height the node cannot continue from) stops
// the node.
func (n *Node) Run(ctx context.Context) error {
	if h := n.Halted(); h != nil {
		n.cfg.Logf("HALTED at height %d: %s (the halt is recorded in the store; start with --clear-halt to resume)", h.Height, h.Reason)
		return ErrHalted
	}
	saved, err := n.cfg.App.InitChain(ctx, n.g.Sidecar)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if he, ok := swingset.IsHalt(err); ok {
			n.haltLocal(he.Height, "the sidecar refused Init: "+he.Msg)
			return ErrHalted
		}
		return err
	}
	h := n.Height()
	if saved != h && saved != h+1 {
		return fmt.Errorf("node: the sidecar's saved height is %d and this node's is %d: they cannot continue together (restore the sidecar's data dir to match, or this node's --home)", saved, h)
	}
	if saved == h+1 {
		n.cfg.Logf("sidecar committed height %d before this node did: re-driving it (the sidecar replays it)", saved)
	}
	n.cfg.Logf("node %s (%s) of chain %s at height %d, app hash %x, proposer %s", n.cfg.ID,
		map[bool]string{true: "proposer", false: "follower"}[n.isProposer], n.g.ChainID, h, n.appHash, n.proposer.ID)
	if n.cfg.OnReady != nil {
		n.cfg.OnReady()
	}
	if n.isProposer {
		err = n.propose(ctx, saved)
	} else {
		err = n.follow(ctx)
	}
	if ctx.Err() != nil && !errors.Is(err, ErrHalted) {
		return nil
	}
	return err
}

// errMismatch: a follower's app hash differs from the proposer's for a block.
type errMismatch struct {
	height        int64
	mine, theirs  []byte
	mineStateHash string
}

func (e *errMismatch) Error() string {
	return fmt.Sprintf("app hash mismatch at height %d: mine %x, the proposer's %x", e.height, e.mine, e.theirs)
}

// execute runs block b on the sidecar and commits it. want is the proposer's app hash (nil on
// the proposer); included are the mempool entries the block takes (proposer).
func (n *Node) execute(ctx context.Context, b *chainpb.Block, want []byte, included []uint64) error {
	start := time.Now()
	n.mu.Lock()
	height, prev := n.height, n.appHash
	n.mu.Unlock()
	if b.Height != height+1 {
		return fmt.Errorf("node: block %d after height %d", b.Height, height)
	}
	if !bytes.Equal(b.PrevAppHash, prev) {
		if n.cfg.HaltOnMismatch {
			return &errMismatch{height: height, mine: prev, theirs: b.PrevAppHash}
		}
		n.cfg.Logf("WARNING: block %d names prev app hash %x; this node's at %d is %x (--halt-on-mismatch=false: going on)", b.Height, b.PrevAppHash, height, prev)
	}
	n.store.Discard()
	if err := n.cfg.App.BeginBlock(ctx, b.Height, time.Unix(b.TimeUnix, 0)); err != nil {
		return err
	}
	ids := make([][]byte, len(b.Txs))
	recs := make([]*chainpb.TxRecord, len(b.Txs))
	refused := 0
	for i, raw := range b.Txs {
		id := sha256Sum(raw)
		rec := &chainpb.TxRecord{Height: b.Height, Index: uint32(i), Tx: raw}
		ids[i], recs[i] = id, rec
		tx, err := decodeTx(raw)
		if err != nil {
			rec.Error = err.Error()
			refused++
			continue
		}
		seq, err := n.cfg.App.DeliverTx(ctx, txAction(tx))
		var inv *swingset.InvalidActionError
		if errors.As(err, &inv) {
			rec.Error = fmt.Sprintf("tx.%s: %s", inv.Field, inv.Msg)
			refused++
			continue
		}
		if err != nil {
			return err
		}
		rec.Seq = seq
	}
	tDeliver := time.Now()
	res, err := n.cfg.App.EndBlock(ctx)
	if err != nil {
		return err
	}
	tEnd := time.Now()
	stateHash := string(res.StateHash)
	appHash, err := BlockAppHash(b, stateHash)
	if err != nil {
		return &swingset.HaltError{Height: b.Height, Msg: err.Error()}
	}
	if want != nil && !bytes.Equal(appHash, want) {
		if n.cfg.HaltOnMismatch {
			return &errMismatch{height: b.Height, mine: appHash, theirs: want, mineStateHash: stateHash}
		}
		n.cfg.Logf("WARNING: app hash mismatch at height %d: mine %x, the proposer's %x (--halt-on-mismatch=false: going on)", b.Height, appHash, want)
	}
	tCommit := time.Now()
	if err := n.cfg.App.Commit(ctx); err != nil {
		return err
	}
	tStore := time.Now()
	cb := &chainpb.CommittedBlock{Block: b, AppHash: appHash, StateHash: stateHash}
	for _, id := range ids {
		cb.TxIds = append(cb.TxIds, hex.EncodeToString(id))
	}
	if err := n.store.CommitBlock(cb, ids, recs, included); err != nil {
		return fmt.Errorf("node: %w (the sidecar committed height %d: a restart re-drives it)", err, b.Height)
	}
	n.mu.Lock()
	n.height, n.appHash, n.stateHash, n.timeUnix = b.Height, appHash, stateHash, b.TimeUnix
	self := n.peers[n.cfg.ID]
	self.Height, self.AppHash, self.SeenUnixMs = b.Height, hex.EncodeToString(appHash), time.Now().UnixNano()/1e6
	n.notifyLocked()
	n.mu.Unlock()
	extra := ""
	if refused > 0 {
		extra = fmt.Sprintf(" refused=%d", refused)
	}
	// took = the whole block; endblock and commit = the sidecar's calls; the rest is the node's
	// (BeginBlock, DeliverTx, hashing, the store commit).
	took := time.Since(start)
	sidecar := tEnd.Sub(tDeliver) + tStore.Sub(tCommit)
	n.cfg.Logf("block height=%d txs=%d%s consumed=%d settled=%d app_hash=%x state_hash=%.16s took=%s endblock=%s commit=%s node=%s",
		b.Height, len(b.Txs), extra, len(res.Results), len(res.Settled), appHash[:8], stateHash,
		took.Round(time.Millisecond), tEnd.Sub(tDeliver).Round(time.Millisecond),
		tStore.Sub(tCommit).Round(time.Millisecond), (took - sidecar).Round(time.Millisecond))
	return nil
}

// haltChain records a chain halt (persisted) and wakes every stream.
func (n *Node) haltChain(height int64, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.haltChainLocked(height, reason)
}

func (n *Node) haltChainLocked(height int64, reason string) {
	h := &chainpb.Halt{Height: height, Reason: reason}
	if n.halt != nil && n.haltSaved && proto.Equal(n.halt, h) {
		return
	}
	if err := n.store.SetHalt(h); err != nil {
		n.cfg.Logf("ERROR: recording the halt: %v", err)
	}
	first := n.halt == nil
	n.halt, n.haltSaved = h, true
	if first {
		n.notifyLocked()
	}
	n.cfg.Logf("HALT at height %d: %s", height, reason)
}

// haltLocal halts this node only (not recorded): its sidecar refused the lifecycle.
func (n *Node) haltLocal(height int64, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.halt != nil {
		return
	}
	n.halt = &chainpb.Halt{Height: height, Reason: "this node: " + reason}
	n.notifyLocked()
	n.cfg.Logf("HALT (this node) at height %d: %s", height, reason)
}

// blockError turns an execution error into a halt where it is one; other errors pass through.
func (n *Node) blockError(height int64, err error) error {
	if he, ok := swingset.IsHalt(err); ok {
		n.haltLocal(he.Height, fmt.Sprintf("the sidecar refused the lifecycle at height %d: %s: %s", he.Height, he.Code, he.Msg))
		return ErrHalted
	}
	return err
}
