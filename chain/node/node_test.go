package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/genesis"
	chainpb "swingsetd.dev/gen/swingchainv1"
	pb "swingsetd.dev/gen/swingsetdv1"
)

// The documented app hash encodings, written out independently of apphash.go.
func TestAppHashEncoding(t *testing.T) {
	b := &chainpb.Block{Height: 7, TimeUnix: 1700000000, PrevAppHash: bytes.Repeat([]byte{0xab}, 32),
		Txs: [][]byte{[]byte("tx-one"), {}}}
	state := strings.Repeat("0f", 32)
	var buf bytes.Buffer
	buf.WriteString("swingchain.apphash.v1")
	buf.Write(b.PrevAppHash)
	buf.Write([]byte{0, 0, 0, 0, 0, 0, 0, 7})
	binary.Write(&buf, binary.BigEndian, int64(1700000000))
	buf.Write([]byte{0, 0, 0, 2})
	buf.Write([]byte{0, 0, 0, 6})
	buf.WriteString("tx-one")
	buf.Write([]byte{0, 0, 0, 0})
	buf.Write([]byte{0, 0, 0, 32})
	buf.Write(bytes.Repeat([]byte{0x0f}, 32))
	want := sha256.Sum256(buf.Bytes())
	got, err := BlockAppHash(b, state)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Fatalf("BlockAppHash = %x, %v; want %x", got, err, want)
	}
	// Every input counts: tx order, height, time, prev, state hash.
	variants := []func(*chainpb.Block) string{
		func(c *chainpb.Block) string { c.Txs[0], c.Txs[1] = c.Txs[1], c.Txs[0]; return state },
		func(c *chainpb.Block) string { c.Height++; return state },
		func(c *chainpb.Block) string { c.TimeUnix++; return state },
		func(c *chainpb.Block) string { c.PrevAppHash = bytes.Repeat([]byte{1}, 32); return state },
		func(c *chainpb.Block) string { return strings.Repeat("0e", 32) },
		// Length prefixes: moving a byte between txs changes the hash.
		func(c *chainpb.Block) string { c.Txs = [][]byte{[]byte("tx-on"), []byte("e")}; return state },
	}
	for i, v := range variants {
		c := proto.Clone(b).(*chainpb.Block)
		sh := v(c)
		h, err := BlockAppHash(c, sh)
		if err != nil || bytes.Equal(h, got) {
			t.Errorf("variant %d: hash %x unchanged (%v)", i, h, err)
		}
	}
	if _, err := BlockAppHash(b, "xyz"); err == nil {
		t.Error("a non-hex state hash was accepted")
	}

	// Genesis: chain id, validator ids and the sidecar genesis count; addresses do not.
	g := testGenesis(t, []genesis.Validator{{ID: "val0", Addr: "127.0.0.1:1"}, {ID: "val1", Addr: "127.0.0.1:2"}})
	sc, _ := proto.MarshalOptions{Deterministic: true}.Marshal(g.Sidecar)
	scHash := sha256.Sum256(sc)
	buf.Reset()
	buf.WriteString("swingchain.genesis.v1")
	buf.Write([]byte{0, 0, 0, 10})
	buf.WriteString("test-chain")
	buf.Write([]byte{0, 0, 0, 2, 0, 0, 0, 4})
	buf.WriteString("val0")
	buf.Write([]byte{0, 0, 0, 4})
	buf.WriteString("val1")
	buf.Write(scHash[:])
	wantG := sha256.Sum256(buf.Bytes())
	gh, err := GenesisAppHash(g)
	if err != nil || !bytes.Equal(gh, wantG[:]) {
		t.Fatalf("GenesisAppHash = %x, %v; want %x", gh, err, wantG)
	}
	moved := testGenesis(t, []genesis.Validator{{ID: "val0", Addr: "127.0.0.1:5"}, {ID: "val1", Addr: "127.0.0.1:6"}})
	if h, _ := GenesisAppHash(moved); !bytes.Equal(h, gh) {
		t.Error("the genesis app hash depends on addresses")
	}
	other := testGenesis(t, []genesis.Validator{{ID: "val1", Addr: "127.0.0.1:1"}, {ID: "val0", Addr: "127.0.0.1:2"}})
	if h, _ := GenesisAppHash(other); bytes.Equal(h, gh) {
		t.Error("the genesis app hash ignores the validator order (the proposer)")
	}
	g.Sidecar.Vats[0].Source += " "
	if h, _ := GenesisAppHash(g); bytes.Equal(h, gh) {
		t.Error("the genesis app hash ignores the vat sources")
	}
}

// appHashes returns node's app hash per height 1..top.
func appHashes(t *testing.T, tnode *testNode, top int64) [][]byte {
	t.Helper()
	var out [][]byte
	for h := int64(1); h <= top; h++ {
		b, err := tnode.client.GetBlock(context.Background(), &chainpb.GetBlockRequest{Height: h})
		if err != nil {
			t.Fatalf("%s: GetBlock(%d): %v", tnode.id, h, err)
		}
		out = append(out, b.Block.AppHash)
	}
	return out
}

func submit(t *testing.T, tnode *testNode, tx *chainpb.Tx) string {
	t.Helper()
	r, err := tnode.client.Submit(context.Background(), &chainpb.SubmitRequest{Tx: tx})
	if err != nil {
		t.Fatalf("%s: Submit: %v", tnode.id, err)
	}
	return r.TxId
}

func TestThreeNodesAgreeAndForward(t *testing.T) {
	tn := newTestNet(t, 3)
	for i := range tn.nodes {
		tn.start(i)
	}
	var ids []string
	for i := 0; i < 30; i++ {
		// Every node takes txs: followers forward them to the proposer.
		ids = append(ids, submit(t, tn.nodes[i%3], callVat("counter", "increment", fmt.Sprintf("[%d]", i), uint64(i))))
	}
	if ids[0] != TxID(mustEncode(t, callVat("counter", "increment", "[0]", 0))) {
		t.Fatalf("tx id %s is not the SHA-256 of the tx bytes", ids[0])
	}
	for _, tnode := range tn.nodes {
		for i, id := range ids {
			id := id
			var r *chainpb.GetTxResponse
			waitFor(t, tnode.id+" tx "+id, 10*time.Second, func() bool {
				var err error
				r, err = tnode.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: id})
				return err == nil && r.Status == "committed" && r.Settled != nil
			})
			if r.Settled.ValueJson != fmt.Sprintf("[%d]", i) || r.Result.ResultKpid != r.Settled.Kpid ||
				r.Tx.GetCallVat().GetArgsJson() != fmt.Sprintf("[%d]", i) {
				t.Fatalf("%s: tx %d: %v", tnode.id, i, r)
			}
		}
	}
	// Same app hash at every height on every node (and the txs ordered the same).
	top := tn.nodes[0].n.Height()
	waitFor(t, "followers at the proposer's height", 10*time.Second, func() bool {
		return tn.nodes[1].n.Height() >= top && tn.nodes[2].n.Height() >= top
	})
	want := appHashes(t, tn.nodes[0], top)
	for _, tnode := range tn.nodes[1:] {
		got := appHashes(t, tnode, top)
		for h := range want {
			if !bytes.Equal(got[h], want[h]) {
				t.Fatalf("%s: app hash at %d = %x, proposer %x", tnode.id, h+1, got[h], want[h])
			}
		}
	}
	// The same tx again is refused (through a follower too); another nonce is a new tx.
	for _, tnode := range tn.nodes {
		_, err := tnode.client.Submit(context.Background(), &chainpb.SubmitRequest{Tx: callVat("counter", "increment", "[0]", 0)})
		if status.Code(err) != codes.AlreadyExists {
			t.Fatalf("%s: duplicate tx: %v", tnode.id, err)
		}
	}
	submit(t, tn.nodes[1], callVat("counter", "increment", "[0]", 1000))
	st, err := tn.nodes[1].client.Status(context.Background(), &chainpb.StatusRequest{})
	if err != nil || st.Proposer != "val0" || st.Halted || len(st.Peers) != 2 || st.Peers[0].Id != "val0" {
		t.Fatalf("status %v, %v", st, err)
	}
	waitFor(t, "peer heights in Status", 10*time.Second, func() bool {
		st, err := tn.nodes[0].client.Status(context.Background(), &chainpb.StatusRequest{})
		return err == nil && st.Peers[0].Height >= top && st.Peers[1].Height >= top
	})
}

func mustEncode(t *testing.T, tx *chainpb.Tx) []byte {
	b, err := encodeTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMismatchHaltsTheChain(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.nodes[2].app.tamperAt = 5
	for i := range tn.nodes {
		tn.start(i)
	}
	for _, tnode := range tn.nodes {
		tnode := tnode
		waitFor(t, tnode.id+" halted", 10*time.Second, func() bool {
			st, err := tnode.client.Status(context.Background(), &chainpb.StatusRequest{})
			return err == nil && st.Halted && strings.Contains(st.HaltReason, "val2 has")
		})
	}
	for _, tnode := range tn.nodes {
		st, _ := tnode.client.Status(context.Background(), &chainpb.StatusRequest{})
		t.Logf("%s: height %d, halt: %s", tnode.id, st.Height, st.HaltReason)
		if !strings.Contains(st.HaltReason, "app hash mismatch at height 5") ||
			!strings.Contains(st.HaltReason, "val0 (proposer) has") {
			t.Errorf("%s: halt reason %q does not name height 5 and the nodes", tnode.id, st.HaltReason)
		}
		if tnode.id == "val2" && st.Height != 4 {
			t.Errorf("val2 committed the mismatching block: height %d", st.Height)
		}
		if h := tnode.n.Halted(); h == nil || h.Height != 5 {
			t.Errorf("%s: halt record %v", tnode.id, h)
		}
	}
	// Nothing executes any more.
	top := []int64{tn.nodes[0].n.Height(), tn.nodes[1].n.Height(), tn.nodes[2].n.Height()}
	begun := tn.nodes[0].app.beginCalled
	time.Sleep(200 * time.Millisecond)
	for i, tnode := range tn.nodes {
		if tnode.n.Height() != top[i] {
			t.Errorf("%s went on after the halt: %d -> %d", tnode.id, top[i], tnode.n.Height())
		}
	}
	if tn.nodes[0].app.beginCalled != begun {
		t.Error("the proposer began a block after the halt")
	}
	// The proposer commits before the followers execute, so it may be a few blocks past 5 when
	// the report arrives; val1 verified every block it committed against the proposer.
	if top[0] < 5 || top[1] > top[0] {
		t.Errorf("heights after the halt: proposer %d, val1 %d", top[0], top[1])
	}
	_, err := tn.nodes[1].client.Submit(context.Background(), &chainpb.SubmitRequest{Tx: callVat("counter", "get", "", 1)})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "halted at height 5") {
		t.Errorf("Submit on a halted chain: %v", err)
	}
	// A restarted node stays halted.
	if err := tn.stop(tn.nodes[1]); !errors.Is(err, ErrHalted) {
		t.Errorf("Run of a halted node returned %v", err)
	}
	tnode := tn.start(1)
	if err := <-tnode.done; !errors.Is(err, ErrHalted) {
		t.Errorf("restarted halted node: Run = %v", err)
	}
	tnode.done <- ErrHalted // for stop
	if h := tnode.n.Halted(); h == nil || h.Height != 5 {
		t.Errorf("restarted node: halt %v", h)
	}
	// Its halt cleared (--clear-halt) while the proposer is still halted: the proposer halts
	// it again.
	tn.stop(tnode)
	store, err := blockstore.Open(tnode.home)
	if err != nil {
		t.Fatal(err)
	}
	store.ClearHalt()
	store.Close()
	tnode = tn.start(1)
	select {
	case err := <-tnode.done:
		tnode.done <- err
		if !errors.Is(err, ErrHalted) {
			t.Fatalf("cleared node: Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cleared node did not halt again")
	}
	if h := tnode.n.Halted(); h == nil || h.Height != 5 || !strings.Contains(h.Reason, "val2 has") {
		t.Errorf("cleared node: halt %v", h)
	}
}

func TestMismatchWithoutHalt(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.nodes[1].app.tamperAt = 3
	for i := range tn.nodes {
		tn.nodes[i].cfg = func(c *Config) { c.HaltOnMismatch = false }
		tn.start(i)
	}
	waitFor(t, "blocks past the mismatch", 10*time.Second, func() bool { return tn.nodes[1].n.Height() >= 6 })
	if tn.nodes[0].n.Halted() != nil || tn.nodes[1].n.Halted() != nil {
		t.Fatal("--halt-on-mismatch=false halted")
	}
}

func TestCatchUpAfterDowntime(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.start(0)
	f := tn.start(1)
	waitFor(t, "follower at 3", 10*time.Second, func() bool { return f.n.Height() >= 3 })
	if err := tn.stop(f); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, submit(t, tn.nodes[0], callVat("counter", "increment", "[1]", uint64(i))))
	}
	waitFor(t, "proposer 15 blocks ahead", 10*time.Second, func() bool { return tn.nodes[0].n.Height() >= 20 })
	f = tn.start(1)
	top := tn.nodes[0].n.Height()
	waitFor(t, "follower caught up", 10*time.Second, func() bool { return f.n.Height() >= top })
	want, got := appHashes(t, tn.nodes[0], top), appHashes(t, f, top)
	for h := range want {
		if !bytes.Equal(want[h], got[h]) {
			t.Fatalf("height %d: follower %x, proposer %x", h+1, got[h], want[h])
		}
	}
	for _, id := range ids {
		r, err := f.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: id})
		if err != nil || r.Settled == nil {
			t.Fatalf("caught-up follower: tx %s: %v %v", id, r, err)
		}
	}
}

// The proposer crashes after its sidecar committed a block and before its own store did: the
// restarted proposer re-drives the same block (its txs from the mempool included), the sidecar
// replays it, and the followers agree.
func TestProposerRedrivesAfterCrash(t *testing.T) {
	tn := newTestNet(t, 2)
	p := tn.nodes[0]
	p.cfg = func(c *Config) { c.BlockInterval = 300 * time.Millisecond }
	tn.start(0)
	tn.start(1)
	waitFor(t, "height 2", 10*time.Second, func() bool { return p.n.Height() >= 2 })
	p.app.mu.Lock()
	p.app.crashAfter = p.app.saved + 1
	crashAt := p.app.crashAfter
	p.app.mu.Unlock()
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, submit(t, p, callVat("counter", "increment", "[2]", uint64(i))))
	}
	err := func() error {
		select {
		case err := <-p.done:
			p.done <- err
			return err
		case <-time.After(10 * time.Second):
			return nil
		}
	}()
	if err == nil || !strings.Contains(err.Error(), "crash after the sidecar's commit") {
		t.Fatalf("proposer Run = %v, want the crash", err)
	}
	if h := p.n.Height(); h != crashAt-1 {
		t.Fatalf("proposer store at %d, want %d", h, crashAt-1)
	}
	proposed, _ := p.store.Proposed()
	tn.stop(p)
	if proposed == nil || proposed.Height != crashAt {
		t.Fatalf("no proposed block %d on record: %v", crashAt, proposed)
	}
	p = tn.start(0)
	f := tn.nodes[1]
	waitFor(t, "follower past the crash height", 10*time.Second, func() bool { return f.n.Height() > crashAt })
	b, err := p.client.GetBlock(context.Background(), &chainpb.GetBlockRequest{Height: crashAt})
	if err != nil || !proto.Equal(b.Block.Block, proposed) {
		t.Fatalf("block %d after the restart differs from the one proposed before: %v %v", crashAt, b, err)
	}
	for _, id := range ids {
		r, err := f.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: id})
		if err != nil || r.Settled == nil {
			t.Fatalf("tx %s: %v %v", id, r, err)
		}
	}
	if st, _ := p.client.Status(context.Background(), &chainpb.StatusRequest{}); st.Mempool != 0 {
		t.Fatalf("mempool after re-drive: %d", st.Mempool)
	}
}

func TestSidecarRefusalHaltsThisNodeOnly(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.nodes[1].app.haltAt = 3
	tn.start(0)
	f := tn.start(1)
	select {
	case err := <-f.done:
		f.done <- err
		if !errors.Is(err, ErrHalted) {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no halt")
	}
	h := f.n.Halted()
	if h == nil || h.Height != 3 || !strings.Contains(h.Reason, "this node") {
		t.Fatalf("halt %v", h)
	}
	if r, _ := f.store.Halt(); r != nil {
		t.Fatal("a node-local halt was recorded in the store")
	}
	waitFor(t, "the chain going on", 10*time.Second, func() bool { return tn.nodes[0].n.Height() >= 6 })
	if tn.nodes[0].n.Halted() != nil {
		t.Fatal("the proposer halted")
	}
}

func TestBadInput(t *testing.T) {
	tn := newTestNet(t, 2)
	p := tn.start(0)
	f := tn.start(1)
	ctx := context.Background()
	good := mustEncode(t, callVat("counter", "get", "", 1))
	noncanon := append(append([]byte{}, good...), 0x18, 0x01) // nonce again: valid proto, not canonical
	cases := []struct {
		req  *chainpb.SubmitRequest
		code codes.Code
		want string
	}{
		{&chainpb.SubmitRequest{}, codes.InvalidArgument, "tx: missing"},
		{&chainpb.SubmitRequest{Tx: callVat("counter", "get", "", 1), TxBytes: good}, codes.InvalidArgument, "not both"},
		{&chainpb.SubmitRequest{Tx: &chainpb.Tx{Nonce: 1}}, codes.InvalidArgument, "tx.action"},
		{&chainpb.SubmitRequest{Tx: callVat("no such vat!", "get", "", 1)}, codes.InvalidArgument, "tx.call_vat.vat"},
		{&chainpb.SubmitRequest{Tx: callVat("counter", "", "", 1)}, codes.InvalidArgument, "tx.call_vat.method"},
		{&chainpb.SubmitRequest{Tx: callVat("counter", "get", "{", 1)}, codes.InvalidArgument, "tx.call_vat.args_json"},
		{&chainpb.SubmitRequest{Tx: &chainpb.Tx{Action: &chainpb.Tx_DeliverInbound{DeliverInbound: &pb.DeliverInbound{Peer: ""}}}}, codes.InvalidArgument, "tx.deliver_inbound.peer"},
		{&chainpb.SubmitRequest{TxBytes: []byte{0xff, 0xff}}, codes.InvalidArgument, "tx_bytes: tx: not a swingchain.v1.Tx"},
		{&chainpb.SubmitRequest{TxBytes: noncanon}, codes.InvalidArgument, "canonical"},
		{&chainpb.SubmitRequest{TxBytes: make([]byte, MaxTxBytes+1)}, codes.InvalidArgument, "tx_bytes: tx: "},
	}
	for _, tnode := range []*testNode{p, f} {
		for i, c := range cases {
			_, err := tnode.client.Submit(ctx, c.req)
			if status.Code(err) != c.code || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s case %d: %v, want %s containing %q", tnode.id, i, err, c.code, c.want)
			}
		}
	}
	if st, _ := p.client.Status(ctx, &chainpb.StatusRequest{}); st.Mempool != 0 {
		t.Errorf("refused txs reached the mempool: %d", st.Mempool)
	}
	if _, err := p.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: "xyz"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "tx_id") {
		t.Errorf("GetTx bad id: %v", err)
	}
	if _, err := f.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: strings.Repeat("a", 64)}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTx unknown: %v", err)
	}
	if _, err := p.client.GetBlock(ctx, &chainpb.GetBlockRequest{Height: -1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetBlock -1: %v", err)
	}
	if _, err := p.client.GetBlock(ctx, &chainpb.GetBlockRequest{Height: 1 << 40}); status.Code(err) != codes.NotFound {
		t.Errorf("GetBlock far: %v", err)
	}
	if _, err := p.client.GetMailbox(ctx, &chainpb.GetMailboxRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetMailbox empty: %v", err)
	}
	// Peer service: another chain, an unknown node, a report to a follower, bad hash.
	peer := chainpb.NewPeerClient(p.conn)
	if _, err := peer.ReportAppHash(ctx, &chainpb.ReportAppHashRequest{ChainId: "other", NodeId: "val1", AppHash: make([]byte, 32)}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("report from another chain: %v", err)
	}
	if _, err := peer.ReportAppHash(ctx, &chainpb.ReportAppHashRequest{ChainId: "test-chain", NodeId: "val9", AppHash: make([]byte, 32)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("report from an unknown node: %v", err)
	}
	if _, err := peer.ReportAppHash(ctx, &chainpb.ReportAppHashRequest{ChainId: "test-chain", NodeId: "val1", AppHash: []byte{1}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("report of a short hash: %v", err)
	}
	if _, err := chainpb.NewPeerClient(f.conn).ReportAppHash(ctx, &chainpb.ReportAppHashRequest{ChainId: "test-chain", NodeId: "val0", AppHash: make([]byte, 32)}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("report to a follower: %v", err)
	}
	st, err := peer.StreamBlocks(ctx, &chainpb.StreamBlocksRequest{ChainId: "test-chain", NodeId: "val1", GenesisAppHash: make([]byte, 32), FromHeight: 1})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "genesis") {
		t.Errorf("stream with another genesis: %v", err)
	}
	if p.n.Halted() != nil || f.n.Halted() != nil {
		t.Error("bad input halted a node")
	}
}

func TestStoreOfAnotherGenesis(t *testing.T) {
	tn := newTestNet(t, 1)
	tn.start(0)
	waitFor(t, "a block", 10*time.Second, func() bool { return tn.nodes[0].n.Height() >= 1 })
	tn.stop(tn.nodes[0])
	store, err := blockstore.Open(tn.nodes[0].home)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := testGenesis(t, []genesis.Validator{{ID: "val0", Addr: "127.0.0.1:1"}})
	g.Sidecar.Vats[0].Source = "export const y = 2;"
	_, err = New(Config{ID: "val0", Genesis: g, Store: store, App: newFakeApp(), Queries: newFakeApp()})
	if err == nil || !strings.Contains(err.Error(), "another genesis") {
		t.Fatalf("New over another genesis's store: %v", err)
	}
	_, err = New(Config{ID: "val7", Genesis: tn.g, Store: store, App: newFakeApp(), Queries: newFakeApp()})
	if err == nil || !strings.Contains(err.Error(), "val7") {
		t.Fatalf("New with an unknown id: %v", err)
	}
	// A sidecar ahead by more than one block cannot go on with this store.
	app := newFakeApp()
	app.saved = 50
	n, err := New(Config{ID: "val0", Genesis: tn.g, Store: store, App: app, Queries: app})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "saved height is 50") {
		t.Fatalf("Run with the sidecar at 50: %v", err)
	}
	_ = hex.EncodeToString
}

func TestPendingAndFullMempool(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.nodes[0].cfg = func(c *Config) { c.BlockInterval = time.Hour; c.MaxMempool = 2 }
	p := tn.start(0)
	f := tn.start(1)
	ctx := context.Background()
	id := submit(t, f, callVat("counter", "increment", "[1]", 1))
	r, err := p.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: id})
	if err != nil || r.Status != "pending" || r.Tx.GetCallVat().GetMethod() != "increment" {
		t.Fatalf("pending tx: %v %v", r, err)
	}
	if _, err := f.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("pending tx on a follower: %v", err)
	}
	_, err = f.client.Submit(ctx, &chainpb.SubmitRequest{Tx: callVat("counter", "increment", "[1]", 1)})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("duplicate pending: %v", err)
	}
	submit(t, p, callVat("counter", "increment", "[1]", 2))
	_, err = f.client.Submit(ctx, &chainpb.SubmitRequest{Tx: callVat("counter", "increment", "[1]", 3)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("full mempool: %v", err)
	}
	if st, _ := p.client.Status(ctx, &chainpb.StatusRequest{}); st.Mempool != 2 || st.Height != 0 {
		t.Fatalf("status: %v", st)
	}
	// The mempool survives a restart of the proposer and goes into its next block.
	tn.stop(p)
	tn.nodes[0].cfg = func(c *Config) { c.BlockInterval = 20 * time.Millisecond }
	p = tn.start(0)
	waitFor(t, "the pending txs committed", 10*time.Second, func() bool {
		r, err := f.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: id})
		return err == nil && r.Status == "committed" && r.Height == 1
	})
	b, err := p.client.GetBlock(ctx, &chainpb.GetBlockRequest{Height: 1})
	if err != nil || len(b.Block.Block.Txs) != 2 || b.Block.TxIds[0] != id {
		t.Fatalf("block 1: %v %v", b, err)
	}
}

// The proposer stops filling blocks while the keeper's queue is long (a sidecar behind).
func TestBackpressureFromTheKeeperQueue(t *testing.T) {
	tn := newTestNet(t, 1)
	p := tn.nodes[0]
	p.app.queued = 3
	p.cfg = func(c *Config) { c.MaxQueued = 5 }
	tn.start(0)
	ctx := context.Background()
	setQueued := func(q uint64) {
		p.app.mu.Lock()
		p.app.queued = q
		p.app.mu.Unlock()
	}
	mempool := func() uint64 {
		st, err := p.client.Status(ctx, &chainpb.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return st.Mempool
	}
	for i := 0; i < 6; i++ {
		submit(t, p, callVat("counter", "increment", "[1]", uint64(i)))
	}
	waitFor(t, "six txs committed", 10*time.Second, func() bool { return mempool() == 0 })
	for height := int64(1); height <= p.n.Height(); height++ {
		b, err := p.client.GetBlock(ctx, &chainpb.GetBlockRequest{Height: height})
		if err != nil || len(b.Block.Block.Txs) > 2 {
			t.Fatalf("block %d: %d txs with the queue at 3 of 5 (%v)", height, len(b.Block.Block.Txs), err)
		}
	}
	setQueued(5)
	for i := 0; i < 3; i++ {
		submit(t, p, callVat("counter", "increment", "[1]", uint64(100+i)))
	}
	h := p.n.Height()
	waitFor(t, "more blocks", 10*time.Second, func() bool { return p.n.Height() >= h+5 })
	if m := mempool(); m != 3 {
		t.Fatalf("mempool %d: txs went into blocks while the queue was full", m)
	}
	setQueued(0)
	waitFor(t, "the rest committed", 10*time.Second, func() bool { return mempool() == 0 })
}

// badProposer sends a block out of order (or a message without a block) on every stream.
type badProposer struct {
	chainpb.UnimplementedPeerServer
	msg     *chainpb.StreamBlocksResponse
	streams chan struct{}
}

func (b *badProposer) StreamBlocks(req *chainpb.StreamBlocksRequest, srv chainpb.Peer_StreamBlocksServer) error {
	select {
	case b.streams <- struct{}{}:
	default:
	}
	return srv.Send(b.msg)
}

// A proposer sending garbage makes a follower retry, not exit or halt.
func TestFollowerSurvivesABadProposer(t *testing.T) {
	for _, msg := range []*chainpb.StreamBlocksResponse{
		{Msg: &chainpb.StreamBlocksResponse_Block{Block: &chainpb.CommittedBlock{Block: &chainpb.Block{Height: 5}}}},
		{Msg: &chainpb.StreamBlocksResponse_Block{Block: &chainpb.CommittedBlock{}}},
		{},
	} {
		tn := newTestNet(t, 2)
		bp := &badProposer{msg: msg, streams: make(chan struct{}, 10)}
		srv := grpc.NewServer()
		chainpb.RegisterPeerServer(srv, bp)
		go srv.Serve(tn.nodes[0].lis)
		f := tn.start(1)
		for i := 0; i < 3; i++ { // three streams: it keeps retrying
			select {
			case <-bp.streams:
			case <-time.After(10 * time.Second):
				t.Fatal("the follower did not retry")
			}
		}
		select {
		case err := <-f.done:
			t.Fatalf("%v: the follower's Run returned %v", msg, err)
		default:
		}
		if f.n.Halted() != nil || f.n.Height() != 0 {
			t.Fatalf("%v: follower halted %v at height %d", msg, f.n.Halted(), f.n.Height())
		}
		srv.Stop()
		tn.stop(f)
	}
}
