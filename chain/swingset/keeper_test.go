package swingset_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/swingset"
	"swingsetd.dev/chain/swingset/swingsettest"
	pb "swingsetd.dev/gen/swingsetdv1"
)

func call(vat, method, args string) *pb.Action {
	return &pb.Action{Kind: &pb.Action_CallVat{CallVat: &pb.CallVat{Vat: vat, Method: method, ArgsJson: args}}}
}

func inbound(peer string, ack uint64, nums ...uint64) *pb.Action {
	d := &pb.DeliverInbound{Peer: peer, Ack: ack}
	for _, n := range nums {
		d.Messages = append(d.Messages, &pb.MailboxMessage{Num: n, Body: fmt.Sprintf("m%d", n)})
	}
	return &pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: d}}
}

var fakeGenesis = &pb.Genesis{ChainId: "fake-1", Vats: []*pb.VatConfig{{Name: "counter", Source: "x"}}}

type env struct {
	t     *testing.T
	fake  *swingsettest.FakeSidecar
	store *swingsettest.MemStore
	k     *swingset.Keeper
	logs  []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake, err := swingsettest.NewFakeSidecar()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	e := &env{t: t, fake: fake, store: swingsettest.NewMemStore()}
	e.open()
	return e
}

// open makes a new Keeper over the store (a process start) and calls InitChain.
func (e *env) open() {
	e.t.Helper()
	if e.k != nil {
		e.k.Close()
	}
	k, err := swingset.NewKeeper(e.store, swingset.Config{Sidecar: e.fake.Addr(),
		RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logf: func(f string, a ...interface{}) { e.logs = append(e.logs, fmt.Sprintf(f, a...)) }})
	if err != nil {
		e.t.Fatal(err)
	}
	e.k = k
	e.t.Cleanup(func() { k.Close() })
	if _, err := k.InitChain(ctx(e.t), fakeGenesis); err != nil {
		e.t.Fatal(err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) deliver(actions ...*pb.Action) []uint64 {
	e.t.Helper()
	var seqs []uint64
	for _, a := range actions {
		seq, err := e.k.DeliverTx(ctx(e.t), a)
		if err != nil {
			e.t.Fatalf("DeliverTx: %v", err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// block runs BeginBlock, EndBlock and Commit at the next height and commits the store.
func (e *env) block(actions ...*pb.Action) *swingset.BlockResult {
	e.t.Helper()
	r := e.blockNoCommit(actions...)
	e.store.Commit()
	return r
}

func (e *env) blockNoCommit(actions ...*pb.Action) *swingset.BlockResult {
	e.t.Helper()
	h, err := e.k.Height()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.k.BeginBlock(ctx(e.t), h+1, time.Unix(1700000000+h, 0)); err != nil {
		e.t.Fatalf("BeginBlock(%d): %v", h+1, err)
	}
	e.deliver(actions...)
	r, err := e.k.EndBlock(ctx(e.t))
	if err != nil {
		e.t.Fatalf("EndBlock(%d): %v", h+1, err)
	}
	if err := e.k.Commit(ctx(e.t)); err != nil {
		e.t.Fatalf("Commit(%d): %v", h+1, err)
	}
	return r
}

func resultIDs(r *swingset.BlockResult) []uint64 {
	var ids []uint64
	for _, x := range r.Results {
		ids = append(ids, x.Id)
	}
	return ids
}

func queueKeys(s *swingsettest.MemStore) []uint64 {
	var seqs []uint64
	for k := range s.Dump() {
		if strings.HasPrefix(k, "q/") {
			seqs = append(seqs, binary.BigEndian.Uint64([]byte(k[2:])))
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs
}

func TestQueueOrderAndPrefixDeletion(t *testing.T) {
	e := newEnv(t)
	e.fake.Lock()
	e.fake.ConsumeLimit = 3
	e.fake.Unlock()
	r := e.block(call("counter", "a", "[1]"), call("counter", "b", ""), inbound("alice", 0, 1, 2),
		call("missing", "c", "[]"), call("counter", "d", `[{"x":[1,2]}]`))
	if got, want := resultIDs(r), []uint64{1, 2, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("block 1 consumed %v, want %v", got, want)
	}
	if got, want := queueKeys(e.store), []uint64{4, 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("queue after block 1: %v, want %v", got, want)
	}
	if n, _ := e.k.QueueLen(); n != 2 {
		t.Fatalf("QueueLen %d, want 2", n)
	}
	// The leftovers go first, in order, then the new actions.
	r = e.block(call("counter", "e", ""))
	if got, want := resultIDs(r), []uint64{4, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("block 2 consumed %v, want %v", got, want)
	}
	if q := queueKeys(e.store); len(q) != 0 {
		t.Fatalf("queue after block 2: %v", q)
	}
	if r.Results[0].Error != "unknown vat 'missing'" || r.Results[0].ResultKpid != "" {
		t.Fatalf("result of 4: %v", r.Results[0])
	}
	// Queries.
	res, ok, err := e.k.Result(1)
	if err != nil || !ok || res.ResultKpid != "kp41" {
		t.Fatalf("Result(1) = %v %v %v", res, ok, err)
	}
	if _, ok, _ := e.k.Result(7); ok {
		t.Fatal("Result(7) found")
	}
	p, ok, err := e.k.Settled("kp41")
	if err != nil || !ok || p.State != "fulfilled" || p.ValueJson != `{"args":[1],"method":"a","vat":"counter"}` {
		t.Fatalf("Settled(kp41) = %v %v %v", p, ok, err)
	}
	m, ok, err := e.k.Mailbox("alice")
	if err != nil || !ok || m.Ack != 2 || len(m.Outbox) != 2 {
		t.Fatalf("Mailbox(alice) = %v %v %v", m, ok, err)
	}
	if _, ok, _ := e.k.Mailbox("bob"); ok {
		t.Fatal("Mailbox(bob) found")
	}
	last, err := e.k.LastBlock()
	if err != nil || last.Height != 2 || string(last.StateHash) != string(r.StateHash) ||
		last.Response.StatsJson != "" || r.Response.StatsJson == "" {
		t.Fatalf("LastBlock = %+v, %v", last, err)
	}
}

func TestQueueSurvivesRestartAndUncommittedTxsVanish(t *testing.T) {
	e := newEnv(t)
	e.block()
	e.fake.Lock()
	e.fake.ConsumeLimit = 1
	e.fake.Unlock()
	e.block(call("counter", "a", ""), call("counter", "b", ""), call("counter", "c", ""))
	// Delivered but never committed: gone after a restart.
	e.deliver(call("counter", "lost", ""))
	e.store.Discard()
	e.open()
	e.fake.Lock()
	e.fake.ConsumeLimit = 0
	e.fake.Unlock()
	r := e.block(call("counter", "d", ""))
	if got, want := resultIDs(r), []uint64{2, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart consumed %v, want %v", got, want)
	}
	if p, _, _ := e.k.Settled("kp44"); p == nil || !strings.Contains(p.ValueJson, `"d"`) {
		t.Fatalf("seq 4 is not the action delivered after the restart: %v", p)
	}
}

func TestBadInputStoresNothing(t *testing.T) {
	e := newEnv(t)
	before := e.store.Dump()
	long := strings.Repeat("a", 257)
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	cases := []struct {
		a     *pb.Action
		field string
	}{
		{nil, "action"},
		{&pb.Action{}, "kind"},
		{&pb.Action{Kind: &pb.Action_CallVat{}}, "call_vat"},
		{call("", "m", ""), "call_vat.vat"},
		{call("bad vat", "m", ""), "call_vat.vat"},
		{call(strings.Repeat("v", 65), "m", ""), "call_vat.vat"},
		{call("counter", "", ""), "call_vat.method"},
		{call("counter", long, ""), "call_vat.method"},
		{call("counter", "a\nb", ""), "call_vat.method"},
		{call("counter", "#x", ""), "call_vat.method"},
		{call("counter", "a\xffb", ""), "call_vat.method"},
		{call("counter", "m", "{}"), "call_vat.args_json"},
		{call("counter", "m", "[1,"), "call_vat.args_json"},
		{call("counter", "m", "[1] [2]"), "call_vat.args_json"},
		{call("counter", "m", "[\"\xff\"]"), "call_vat.args_json"},
		{call("counter", "m", deep), "call_vat.args_json"},
		{call("counter", "m", "["+strings.Repeat("1,", 140000)+"1]"), "call_vat.args_json"},
		{&pb.Action{Kind: &pb.Action_DeliverInbound{}}, "deliver_inbound"},
		{inbound("", 0), "deliver_inbound.peer"},
		{inbound("al ice", 0), "deliver_inbound.peer"},
		{inbound("alice", 1<<53), "deliver_inbound.ack"},
		{inbound("alice", 0, 0), "deliver_inbound.messages[0].num"},
		{inbound("alice", 0, 1<<53), "deliver_inbound.messages[0].num"},
		{&pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: &pb.DeliverInbound{Peer: "alice",
			Messages: []*pb.MailboxMessage{{Num: 1, Body: strings.Repeat("b", 256<<10+1)}}}}},
			"deliver_inbound.messages[0].body"},
		{&pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: &pb.DeliverInbound{Peer: "alice",
			Messages: make([]*pb.MailboxMessage, 10001)}}}, "deliver_inbound.messages"},
		{&pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: &pb.DeliverInbound{Peer: "alice",
			Messages: []*pb.MailboxMessage{nil}}}}, "deliver_inbound.messages[0]"},
	}
	// Five bodies of 250 KiB: each valid, the action above MaxActionBytes.
	big := &pb.DeliverInbound{Peer: "alice"}
	for i := 1; i <= 5; i++ {
		big.Messages = append(big.Messages, &pb.MailboxMessage{Num: uint64(i), Body: strings.Repeat("b", 250<<10)})
	}
	cases = append(cases, struct {
		a     *pb.Action
		field string
	}{&pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: big}}, "action"})
	for i, c := range cases {
		_, err := e.k.DeliverTx(ctx(t), c.a)
		var inv *swingset.InvalidActionError
		if !errors.As(err, &inv) || inv.Field != c.field {
			t.Errorf("case %d: got %v, want an InvalidActionError on %s", i, err, c.field)
		}
	}
	if after := e.store.Dump(); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad input changed the store: %v", after)
	}
	// Edge cases that are valid.
	for i, a := range []*pb.Action{
		call("counter", "m", ""), call("counter", "m", " [ ] "), call("counter", "métHod", `["\ud800", "é"]`),
		call("c-_9", strings.Repeat("m", 256), "["+strings.Repeat("[", 511)+strings.Repeat("]", 511)+"]"),
		inbound("a.b_c:d@e/f+g-h", 1<<53-1, 1<<53-1),
	} {
		if _, err := e.k.DeliverTx(ctx(t), a); err != nil {
			t.Errorf("valid case %d refused: %v", i, err)
		}
	}
}

func TestRetryWhileSidecarDown(t *testing.T) {
	e := newEnv(t)
	e.block(call("counter", "a", ""))
	ref := e.fake.SavedHeight()
	// Down before BeginBlock, back after a while: BeginBlock waits, re-initializes, goes on.
	e.fake.Stop()
	done := make(chan error, 1)
	go func() { done <- e.k.BeginBlock(ctx(t), 2, time.Unix(1700000002, 0)) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("BeginBlock returned while the sidecar was down: %v", err)
	default:
	}
	if err := e.fake.Restart(0); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("BeginBlock after restart: %v", err)
	}
	e.deliver(call("counter", "b", ""))
	// Restarted between BeginBlock and EndBlock: the new process wants Init first.
	e.fake.ResetCalls()
	if err := e.fake.Restart(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r, err := e.k.EndBlock(ctx(t))
	if err != nil {
		t.Fatalf("EndBlock after restart: %v", err)
	}
	// (The first EndBlock may fail before it reaches the new process.)
	if got, want := strings.Join(e.fake.Calls(), ","), "Init,BeginBlock 2,EndBlock 2"; !strings.HasSuffix(got, want) {
		t.Fatalf("calls %s, want %s", got, want)
	}
	// Restarted between EndBlock and Commit: the block is re-driven, then committed.
	e.fake.ResetCalls()
	if err := e.fake.Restart(0); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Commit(ctx(t)); err != nil {
		t.Fatalf("Commit after restart: %v", err)
	}
	e.store.Commit()
	if got, want := strings.Join(e.fake.Calls(), ","), "Init,BeginBlock 2,EndBlock 2,Commit 2"; !strings.HasSuffix(got, want) {
		t.Fatalf("calls %s, want %s", got, want)
	}
	if e.fake.SavedHeight() != ref+1 || len(r.Results) != 1 {
		t.Fatalf("saved %d, results %v", e.fake.SavedHeight(), r.Results)
	}
	// UNAVAILABLE answers (a sidecar shutting down) are retried with backoff too.
	n := 0
	e.fake.Lock()
	e.fake.Fail = func(m string, h int64) error {
		if m == "EndBlock" && n < 3 {
			n++
			return status.Error(codes.Unavailable, "swingsetd is shutting down")
		}
		return nil
	}
	e.fake.Unlock()
	e.block(call("counter", "c", ""))
	if n != 3 {
		t.Fatalf("%d failures injected", n)
	}
}

func TestContextEndsRetries(t *testing.T) {
	e := newEnv(t)
	e.fake.Stop()
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.k.BeginBlock(c, 1, time.Unix(1700000000, 0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if _, ok := swingset.IsHalt(err); ok {
		t.Fatalf("a deadline is not a halt: %v", err)
	}
}

func TestHaltErrors(t *testing.T) {
	for _, code := range []codes.Code{codes.FailedPrecondition, codes.Aborted, codes.Internal, codes.DataLoss, codes.InvalidArgument} {
		t.Run(code.String(), func(t *testing.T) {
			e := newEnv(t)
			e.block()
			e.fake.Lock()
			e.fake.Fail = func(m string, h int64) error {
				if m == "EndBlock" {
					return status.Error(code, "refused for the test")
				}
				return nil
			}
			e.fake.Unlock()
			if err := e.k.BeginBlock(ctx(t), 2, time.Unix(1700000002, 0)); err != nil {
				t.Fatal(err)
			}
			_, err := e.k.EndBlock(ctx(t))
			h, ok := swingset.IsHalt(err)
			if !ok || h.Height != 2 || h.Code != code || !strings.Contains(h.Error(), "height 2") ||
				!strings.Contains(h.Error(), "refused for the test") {
				t.Fatalf("got %v, want a HaltError at height 2 with %s", err, code)
			}
		})
	}
}

func TestHaltWhenSidecarIsAhead(t *testing.T) {
	e := newEnv(t)
	e.block()
	e.blockNoCommit()
	e.store.Discard() // the sidecar at 2, the app at 1: block 2 is replayed
	e.open()
	e.blockNoCommit()
	e.store.Discard()
	// An app store two blocks behind (here: a fresh one) cannot be served.
	e.store = swingsettest.NewMemStore()
	e.open()
	err := e.k.BeginBlock(ctx(t), 1, time.Unix(1700000001, 0))
	h, ok := swingset.IsHalt(err)
	if !ok || h.Height != 1 || !strings.Contains(h.Error(), "saved height is 2") {
		t.Fatalf("got %v, want a HaltError at height 1 naming saved height 2", err)
	}
}

func TestRedrivenBlockMustMatch(t *testing.T) {
	e := newEnv(t)
	e.block()
	if err := e.k.BeginBlock(ctx(t), 2, time.Unix(1700000002, 0)); err != nil {
		t.Fatal(err)
	}
	e.deliver(call("counter", "a", ""))
	if _, err := e.k.EndBlock(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The sidecar restarts with other state (a tampered store): the re-driven block differs.
	e.fake.Lock()
	e.fake.Salt = "tampered"
	e.fake.Unlock()
	if err := e.fake.Restart(0); err != nil {
		t.Fatal(err)
	}
	err := e.k.Commit(ctx(t))
	h, ok := swingset.IsHalt(err)
	if !ok || h.Height != 2 || h.Code != codes.DataLoss {
		t.Fatalf("got %v, want a DataLoss HaltError at height 2", err)
	}
	if e.fake.SavedHeight() != 1 {
		t.Fatalf("the differing block was committed: saved %d", e.fake.SavedHeight())
	}
}

// The app crashes after the sidecar's Commit and before its own: a new keeper over the old
// committed store re-drives the height, the sidecar replays it, and the results, hashes and
// the keeper's store come out identical.
func TestCrashBetweenSidecarCommitAndAppCommit(t *testing.T) {
	e := newEnv(t)
	e.block(call("counter", "a", "[1]"))
	e.deliver(call("counter", "b", "[2]"), inbound("alice", 0, 1))
	e.store.Commit() // txs committed in an earlier block's store commit (as a mempool would)
	first := e.blockNoCommit(call("counter", "later", "[]"))
	want := e.store.Dump()
	e.store.Discard() // the crash
	e.open()
	e.fake.ResetCalls()
	second := e.blockNoCommit(call("counter", "later", "[]"))
	if !strings.Contains(strings.Join(e.fake.Calls(), ","), "BeginBlock 2,EndBlock 2,Commit 2") ||
		e.fake.SavedHeight() != 2 {
		t.Fatalf("calls %v saved %d", e.fake.Calls(), e.fake.SavedHeight())
	}
	if !second.Response.Replayed || first.Response.Replayed {
		t.Fatal("the second run is not the sidecar's replay")
	}
	a := proto.Clone(first.Response).(*pb.EndBlockResponse)
	b := proto.Clone(second.Response).(*pb.EndBlockResponse)
	a.Replayed, b.Replayed = false, false
	if !proto.Equal(a, b) {
		t.Fatalf("replayed response differs:\n%v\n%v", a, b)
	}
	if got := e.store.Dump(); !reflect.DeepEqual(got, want) {
		t.Fatalf("store after re-drive differs")
	}
	e.store.Commit()
	// And the chain goes on: the promise of "later" settles in block 3.
	r := e.block()
	if len(r.Settled) != 1 || r.Settled[0].Kpid != "kp44" {
		t.Fatalf("block 3 settled %v", r.Settled)
	}
}

func TestLargeResponses(t *testing.T) {
	e := newEnv(t)
	// 20 MiB of settled results: beyond grpc-go's 4 MiB default, within the sidecar's bound.
	r := e.block(call("counter", "big", "[10485760]"), call("counter", "big", "[10485760]"))
	if len(r.Settled) != 2 || len(r.Settled[1].ValueJson) != 10485762 {
		t.Fatalf("settled %d", len(r.Settled))
	}
	// A keeper configured with a smaller bound cannot take it: that halts, it is not retried.
	k, err := swingset.NewKeeper(e.store, swingset.Config{Sidecar: e.fake.Addr(), MaxMessageBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.InitChain(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	k.DeliverTx(ctx(t), call("counter", "big", "[2097152]"))
	if err := k.BeginBlock(ctx(t), 2, time.Unix(1700000002, 0)); err != nil {
		t.Fatal(err)
	}
	_, err = k.EndBlock(ctx(t))
	if h, ok := swingset.IsHalt(err); !ok || h.Code != codes.ResourceExhausted {
		t.Fatalf("got %v, want a ResourceExhausted halt", err)
	}
}

func TestEndBlockBatchBounds(t *testing.T) {
	e := newEnv(t)
	// 10,050 actions: one EndBlock takes at most 10,000.
	for i := 0; i < swingset.MaxActionsPerBlock+50; i++ {
		e.k.DeliverTx(ctx(t), call("counter", "m", ""))
	}
	r := e.block()
	if len(r.Results) != swingset.MaxActionsPerBlock {
		t.Fatalf("consumed %d", len(r.Results))
	}
	r = e.block()
	if len(r.Results) != 50 || r.Results[0].Id != swingset.MaxActionsPerBlock+1 {
		t.Fatalf("second block consumed %d", len(r.Results))
	}
	// 100 actions of ~200 KiB: at most 15 MiB of actions per EndBlock.
	args := `["` + strings.Repeat("z", 200<<10) + `"]`
	for i := 0; i < 100; i++ {
		if _, err := e.k.DeliverTx(ctx(t), call("counter", "m", args)); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for blocks := 0; total < 100; blocks++ {
		if blocks > 10 {
			t.Fatal("queue does not drain")
		}
		r := e.block()
		size := 0
		for _, x := range r.Results {
			_ = x
			size += len(args)
		}
		if size > swingset.MaxEndBlockActionSize || len(r.Results) == 0 {
			t.Fatalf("block took %d actions, %d bytes", len(r.Results), size)
		}
		total += len(r.Results)
	}
}

func TestConfigErrors(t *testing.T) {
	store := swingsettest.NewMemStore()
	for _, addr := range []string{"", "10.0.0.1:26660", "example.com:1", "127.0.0.1", "unix:", "127.0.0.1:0"} {
		if _, err := swingset.NewKeeper(store, swingset.Config{Sidecar: addr}); err == nil {
			t.Errorf("Sidecar %q accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:1", "[::1]:1", "localhost:1", "unix:/tmp/x.sock"} {
		k, err := swingset.NewKeeper(store, swingset.Config{Sidecar: addr})
		if err != nil {
			t.Errorf("Sidecar %q refused: %v", addr, err)
		} else {
			k.Close()
		}
	}
	if _, err := swingset.NewKeeper(nil, swingset.Config{Sidecar: "127.0.0.1:1"}); err == nil {
		t.Error("nil store accepted")
	}
	// Out of order use is an error, not a call.
	e := newEnv(t)
	if _, err := e.k.EndBlock(ctx(t)); err == nil {
		t.Error("EndBlock without BeginBlock")
	}
	if err := e.k.Commit(ctx(t)); err == nil {
		t.Error("Commit without EndBlock")
	}
	if err := e.k.BeginBlock(ctx(t), 5, time.Now()); err == nil || !strings.Contains(err.Error(), "next block is 1") {
		t.Errorf("BeginBlock(5) on a fresh store: %v", err)
	}
}
