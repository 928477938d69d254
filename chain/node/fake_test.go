package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/genesis"
	"swingsetd.dev/chain/swingset"
	chainpb "swingsetd.dev/gen/swingchainv1"
	pb "swingsetd.dev/gen/swingsetdv1"
)

// fakeApp stands in for the keeper and its sidecar: its "sidecar" state (saved height and a
// state hash chained over the actions) survives a node restart, as a sidecar process does; the
// block in progress does not. Each call_vat settles in its block with the args as value.
type fakeApp struct {
	mu        sync.Mutex
	saved     int64
	stateHash string
	committed map[int64]string // height -> state hash (for replays)
	results   map[uint64]*pb.ActionResult
	settled   map[string]*pb.PromiseResult
	nextSeq   uint64

	// Knobs.
	tamperAt    int64  // at this height the state hash differs (a tampered sidecar)
	crashAfter  int64  // Commit of this height commits the sidecar, then fails (a crash)
	haltAt      int64  // BeginBlock of this height is a HaltError
	queued      uint64 // what QueueLen answers
	beginCalled int

	// The block in progress.
	height   int64
	replay   bool
	actions  []*pb.Action
	pend     map[uint64]*pb.ActionResult
	pendSet  map[string]*pb.PromiseResult
	pendSeq  uint64
	pendHash string
}

func newFakeApp() *fakeApp {
	return &fakeApp{stateHash: hex.EncodeToString(make([]byte, 32)), committed: map[int64]string{},
		results: map[uint64]*pb.ActionResult{}, settled: map[string]*pb.PromiseResult{}, nextSeq: 1}
}

func (f *fakeApp) InitChain(ctx context.Context, g *pb.Genesis) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.height = 0
	return f.saved, nil
}

func (f *fakeApp) BeginBlock(ctx context.Context, h int64, t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beginCalled++
	if h == f.haltAt {
		return &swingset.HaltError{Height: h, Msg: "test: the sidecar refuses"}
	}
	if h != f.saved+1 && h != f.saved {
		return fmt.Errorf("fake: BeginBlock(%d) at saved %d", h, f.saved)
	}
	f.height, f.replay, f.actions = h, h == f.saved, nil
	f.pend, f.pendSet, f.pendSeq = map[uint64]*pb.ActionResult{}, map[string]*pb.PromiseResult{}, f.nextSeq
	return nil
}

func (f *fakeApp) DeliverTx(ctx context.Context, a *pb.Action) (uint64, error) {
	if err := swingset.ValidateAction(a); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := f.pendSeq
	f.pendSeq++
	a = proto.Clone(a).(*pb.Action)
	a.Id = seq
	f.actions = append(f.actions, a)
	return seq, nil
}

func (f *fakeApp) EndBlock(ctx context.Context) (*swingset.BlockResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.New()
	h.Write([]byte(f.stateHash))
	for _, a := range f.actions {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
		h.Write(b)
		kp := fmt.Sprintf("kp%d", a.Id)
		r := &pb.ActionResult{Id: a.Id}
		if cv := a.GetCallVat(); cv != nil {
			r.ResultKpid = kp
			f.pendSet[kp] = &pb.PromiseResult{Kpid: kp, State: "fulfilled", ValueJson: cv.ArgsJson}
		}
		f.pend[a.Id] = r
	}
	if f.height == f.tamperAt {
		h.Write([]byte("tampered"))
	}
	sh := hex.EncodeToString(h.Sum(nil))
	if f.replay {
		sh = f.committed[f.height]
	}
	res := &swingset.BlockResult{Height: f.height, StateHash: []byte(sh)}
	for _, a := range f.actions {
		res.Results = append(res.Results, f.pend[a.Id])
	}
	f.pendHash = sh
	return res, nil
}

func (f *fakeApp) Commit(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.replay {
		f.saved = f.height
		f.stateHash = f.pendHash
		f.committed[f.height] = f.pendHash
	}
	for k, v := range f.pend {
		f.results[k] = v
	}
	for k, v := range f.pendSet {
		f.settled[k] = v
	}
	f.nextSeq = f.pendSeq
	if f.height == f.crashAfter {
		f.crashAfter = 0
		return errors.New("fake: crash after the sidecar's commit")
	}
	return nil
}

func (f *fakeApp) Result(seq uint64) (*pb.ActionResult, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.results[seq]
	return r, ok, nil
}

func (f *fakeApp) Settled(kpid string) (*pb.PromiseResult, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.settled[kpid]
	return r, ok, nil
}

func (f *fakeApp) QueueLen() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queued, nil
}

func (f *fakeApp) Mailbox(peer string) (*pb.MailboxState, bool, error) {
	return nil, false, nil
}

// ---- a test network of in-process nodes

type testNode struct {
	id     string
	lis    net.Listener
	addr   string
	home   string
	app    *fakeApp
	store  *blockstore.Store
	n      *Node
	srv    *grpc.Server
	cancel context.CancelFunc
	done   chan error
	client chainpb.ChainClient
	conn   *grpc.ClientConn
	cfg    func(*Config)
	// mk makes the node's App and Queries over its store (default: app, the fake); the func it
	// returns releases them at stop.
	mk      func(store *blockstore.Store) (App, Queries, func())
	release func()
}

type testNet struct {
	t     *testing.T
	g     *genesis.Genesis
	nodes []*testNode
}

func testGenesis(t *testing.T, vals []genesis.Validator) *genesis.Genesis {
	t.Helper()
	doc := `{"chain_id":"test-chain","sidecar":{"vats":[{"name":"counter","source":"export const x = 1;"}]},"validators":[`
	for i, v := range vals {
		if i > 0 {
			doc += ","
		}
		doc += fmt.Sprintf(`{"id":%q,"addr":%q}`, v.ID, v.Addr)
	}
	doc += `]}`
	g, err := genesis.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// newTestNet listens on count loopback ports and writes a genesis over them; nodes start with
// start(i).
func newTestNet(t *testing.T, count int) *testNet {
	return newTestNetG(t, count, func(vals []genesis.Validator) *genesis.Genesis { return testGenesis(t, vals) })
}

func newTestNetG(t *testing.T, count int, mkGenesis func([]genesis.Validator) *genesis.Genesis) *testNet {
	tn := &testNet{t: t}
	var vals []genesis.Validator
	for i := 0; i < count; i++ {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("val%d", i)
		tn.nodes = append(tn.nodes, &testNode{id: id, lis: lis, addr: lis.Addr().String(),
			home: t.TempDir(), app: newFakeApp()})
		vals = append(vals, genesis.Validator{ID: id, Addr: lis.Addr().String()})
	}
	tn.g = mkGenesis(vals)
	t.Cleanup(func() {
		for _, n := range tn.nodes {
			tn.stop(n)
		}
	})
	return tn
}

// start runs node i (again, after stop: same store directory and fake sidecar).
func (tn *testNet) start(i int) *testNode {
	t := tn.t
	tnode := tn.nodes[i]
	if tnode.lis == nil {
		var err error
		for try := 0; try < 50; try++ { // the port was ours a moment ago
			if tnode.lis, err = net.Listen("tcp", tnode.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	store, err := blockstore.Open(tnode.home)
	if err != nil {
		t.Fatal(err)
	}
	var app App = tnode.app
	var queries Queries = tnode.app
	tnode.release = func() {}
	if tnode.mk != nil {
		app, queries, tnode.release = tnode.mk(store)
	}
	cfg := Config{ID: tnode.id, Genesis: tn.g, Store: store, App: app, Queries: queries,
		BlockInterval: 20 * time.Millisecond, HaltOnMismatch: true,
		RetryInitial: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Logf: func(format string, args ...interface{}) { t.Logf(tnode.id+": "+format, args...) }}
	if tnode.cfg != nil {
		tnode.cfg(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(ServerOptions()...)
	n.Register(srv)
	go srv.Serve(tnode.lis)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	conn, err := Dial(tnode.addr)
	if err != nil {
		t.Fatal(err)
	}
	tnode.store, tnode.n, tnode.srv, tnode.cancel, tnode.done = store, n, srv, cancel, done
	tnode.conn, tnode.client = conn, chainpb.NewChainClient(conn)
	return tnode
}

// stop ends node i's Run and server and closes its store; it returns Run's error.
func (tn *testNet) stop(tnode *testNode) error {
	if tnode.n == nil {
		return nil
	}
	tnode.cancel()
	var err error
	select {
	case err = <-tnode.done:
	case <-time.After(10 * time.Second):
		tn.t.Errorf("%s: Run did not return", tnode.id)
	}
	tnode.srv.Stop()
	tnode.conn.Close()
	tnode.n.Close()
	tnode.release()
	tnode.store.Close()
	tnode.n, tnode.lis = nil, nil
	return err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func callVat(vat, method, args string, nonce uint64) *chainpb.Tx {
	return &chainpb.Tx{Action: &chainpb.Tx_CallVat{CallVat: &pb.CallVat{Vat: vat, Method: method, ArgsJson: args}}, Nonce: nonce}
}
