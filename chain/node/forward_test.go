package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// Many concurrent Submits on a follower: each gets its own tx's id, all commit, and they went to
// the proposer in fewer ForwardTxs calls than Submits.
func TestFollowerForwardsInBatches(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.start(0)
	f := tn.start(1)
	const workers, each = 50, 6
	ids := make([]string, workers*each)
	errs := make([]error, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := 0; k < each; k++ {
				i := w*each + k
				r, err := f.client.Submit(context.Background(), &chainpb.SubmitRequest{Tx: callVat("counter", "increment", fmt.Sprintf("[%d]", i), uint64(i))})
				if err == nil {
					ids[i] = r.TxId
				}
				errs[i] = err
			}
		}(w)
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("submit %d: %v", i, errs[i])
		}
		if want := TxID(mustEncode(t, callVat("counter", "increment", fmt.Sprintf("[%d]", i), uint64(i)))); ids[i] != want {
			t.Fatalf("submit %d: id %s, want %s", i, ids[i], want)
		}
	}
	calls, txs := f.n.fwd.stats()
	t.Logf("%d Submits forwarded in %d ForwardTxs calls", txs, calls)
	if txs != uint64(len(ids)) || calls >= txs {
		t.Fatalf("%d txs in %d ForwardTxs calls: want %d txs in fewer calls", txs, calls, len(ids))
	}
	for i, id := range ids {
		id := id
		var r *chainpb.GetTxResponse
		waitFor(t, "tx "+id, 10*time.Second, func() bool {
			var err error
			r, err = f.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: id})
			return err == nil && r.Status == "committed" && r.Settled != nil
		})
		if r.Settled.ValueJson != fmt.Sprintf("[%d]", i) {
			t.Fatalf("tx %d settled %v", i, r.Settled)
		}
	}
	// A closed node's forwarder takes nothing more.
	fn := f.n
	tn.stop(f)
	_, err := fn.fwd.forward(context.Background(), mustEncode(t, callVat("counter", "get", "", 1)))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("forward after Close: %v", err)
	}
}

// The same tx submitted twice at once on a follower: one is admitted, the other is
// ALREADY_EXISTS (in one batch or two).
func TestFollowerConcurrentDuplicates(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.start(0)
	f := tn.start(1)
	for nonce := uint64(1); nonce <= 20; nonce++ {
		tx := callVat("counter", "increment", "[1]", nonce)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		ids := make([]string, 2)
		for k := range errs {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				r, err := f.client.Submit(context.Background(), &chainpb.SubmitRequest{Tx: tx})
				errs[k] = err
				if err == nil {
					ids[k] = r.TxId
				}
			}(k)
		}
		wg.Wait()
		ok, dup := 0, 0
		for k, err := range errs {
			switch status.Code(err) {
			case codes.OK:
				ok++
				if ids[k] != TxID(mustEncode(t, tx)) {
					t.Fatalf("nonce %d: id %s", nonce, ids[k])
				}
			case codes.AlreadyExists:
				dup++
				if !strings.Contains(err.Error(), "forwarded to the proposer val0") {
					t.Fatalf("nonce %d: %v does not name the proposer", nonce, err)
				}
			default:
				t.Fatalf("nonce %d: %v", nonce, err)
			}
		}
		if ok != 1 || dup != 1 {
			t.Fatalf("nonce %d: %d admitted, %d ALREADY_EXISTS: %v", nonce, ok, dup, errs)
		}
	}
}

// ForwardTxs on the proposer answers each tx of a mixed batch as Submit would and admits only
// the good ones; on a follower it is FAILED_PRECONDITION; too many txs are refused whole.
func TestForwardTxsOnTheProposer(t *testing.T) {
	tn := newTestNet(t, 2)
	p := tn.start(0)
	f := tn.start(1)
	ctx := context.Background()
	committed := submit(t, p, callVat("counter", "increment", "[0]", 0))
	waitFor(t, "a committed tx", 10*time.Second, func() bool {
		r, err := p.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: committed})
		return err == nil && r.Status == "committed"
	})
	good1 := mustEncode(t, callVat("counter", "increment", "[1]", 1))
	good2 := mustEncode(t, callVat("counter", "increment", "[2]", 2))
	badMethod := mustEncode(t, callVat("counter", "", "", 3))
	noncanon := append(append([]byte{}, good1...), 0x18, 0x01)
	cases := []struct {
		tx   []byte
		code codes.Code
		want string
	}{
		{good1, codes.OK, ""},
		{[]byte{0xff, 0xff}, codes.InvalidArgument, "tx_bytes: tx: not a swingchain.v1.Tx"},
		{noncanon, codes.InvalidArgument, "canonical"},
		{badMethod, codes.InvalidArgument, "tx.call_vat.method"},
		{make([]byte, MaxTxBytes+1), codes.InvalidArgument, "tx_bytes: tx: "},
		{nil, codes.InvalidArgument, "tx.action"},
		{good1, codes.AlreadyExists, "already pending"},
		{mustEncode(t, callVat("counter", "increment", "[0]", 0)), codes.AlreadyExists, "already committed"},
		{good2, codes.OK, ""},
	}
	req := &chainpb.ForwardTxsRequest{}
	for _, c := range cases {
		req.Txs = append(req.Txs, c.tx)
	}
	peer := chainpb.NewPeerClient(p.conn)
	resp, err := peer.ForwardTxs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(cases) {
		t.Fatalf("%d results for %d txs", len(resp.Results), len(cases))
	}
	for i, c := range cases {
		r := resp.Results[i]
		if codes.Code(r.Code) != c.code || !strings.Contains(r.Message, c.want) {
			t.Errorf("tx %d: %v, want %s containing %q", i, r, c.code, c.want)
		}
		if c.code == codes.OK && r.TxId != TxID(c.tx) || c.code != codes.OK && r.TxId != "" {
			t.Errorf("tx %d: id %q", i, r.TxId)
		}
	}
	// Only good1 and good2 (once each) reach the chain after the committed one.
	for _, id := range []string{TxID(good1), TxID(good2)} {
		id := id
		waitFor(t, "tx "+id, 10*time.Second, func() bool {
			r, err := p.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: id})
			return err == nil && r.Status == "committed"
		})
	}
	var all []string
	for h := int64(1); h <= p.n.Height(); h++ {
		b, err := p.client.GetBlock(ctx, &chainpb.GetBlockRequest{Height: h})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b.Block.TxIds...)
	}
	if want := []string{committed, TxID(good1), TxID(good2)}; fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("committed txs %v, want %v", all, want)
	}
	if _, err := chainpb.NewPeerClient(f.conn).ForwardTxs(ctx, &chainpb.ForwardTxsRequest{Txs: [][]byte{good1}}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("ForwardTxs on a follower: %v", err)
	}
	// One tx more than a call may carry: nothing admitted.
	many := &chainpb.ForwardTxsRequest{}
	for i := 0; i <= MaxForwardTxs; i++ {
		many.Txs = append(many.Txs, mustEncode(t, callVat("counter", "increment", "[3]", uint64(100+i))))
	}
	if _, err := peer.ForwardTxs(ctx, many); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most 4096") {
		t.Fatalf("ForwardTxs of %d txs: %v", len(many.Txs), err)
	}
	for _, tx := range [][]byte{many.Txs[0], many.Txs[MaxForwardTxs]} {
		if _, err := p.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: TxID(tx)}); status.Code(err) != codes.NotFound {
			t.Fatalf("a tx of the refused call: %v", err)
		}
	}
	// Two txs of the largest size are more than one message may carry: refused whole by gRPC.
	big := &chainpb.ForwardTxsRequest{Txs: [][]byte{make([]byte, MaxTxBytes), make([]byte, MaxTxBytes)}}
	if _, err := peer.ForwardTxs(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("ForwardTxs of %d bytes: %v", 2*MaxTxBytes, err)
	}
	// MaxForwardTxs of them is one call.
	many.Txs = many.Txs[:MaxForwardTxs]
	resp, err = peer.ForwardTxs(ctx, many)
	if err != nil || len(resp.Results) != MaxForwardTxs || resp.Results[MaxForwardTxs-1].Code != 0 {
		t.Fatalf("ForwardTxs of %d txs: %v", len(many.Txs), err)
	}
}

// A failed mempool write admits none of the batch (every tx INTERNAL) and leaves the in-memory
// mempool as it was: the same txs are admitted afterwards.
func TestForwardTxsWriteFailure(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.nodes[0].cfg = func(c *Config) { c.BlockInterval = time.Hour }
	p := tn.start(0)
	f := tn.start(1)
	ctx := context.Background()
	pending := submit(t, p, callVat("counter", "increment", "[0]", 0))
	p.n.mu.Lock()
	write := p.n.mempoolWrite
	p.n.mempoolWrite = func(uint64, [][]byte) error { return errors.New("test: disk full") }
	p.n.mu.Unlock()
	good1 := mustEncode(t, callVat("counter", "increment", "[1]", 1))
	good2 := mustEncode(t, callVat("counter", "increment", "[2]", 2))
	peer := chainpb.NewPeerClient(p.conn)
	resp, err := peer.ForwardTxs(ctx, &chainpb.ForwardTxsRequest{Txs: [][]byte{good1, good2, good1,
		mustEncode(t, callVat("counter", "increment", "[0]", 0))}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if codes.Code(r.Code) != codes.Internal || !strings.Contains(r.Message, "disk full") || r.TxId != "" {
			t.Errorf("tx %d: %v, want INTERNAL", i, r)
		}
	}
	// Through a follower's Submit: its own error, naming the proposer.
	_, err = f.client.Submit(ctx, &chainpb.SubmitRequest{TxBytes: good2})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "forwarded to the proposer val0") {
		t.Fatalf("Submit on a follower with the proposer's store failing: %v", err)
	}
	st, err := p.client.Status(ctx, &chainpb.StatusRequest{})
	if err != nil || st.Mempool != 1 {
		t.Fatalf("mempool after the failed write: %v %v", st, err)
	}
	p.n.mu.Lock()
	p.n.mempoolWrite = write
	p.n.mu.Unlock()
	resp, err = peer.ForwardTxs(ctx, &chainpb.ForwardTxsRequest{Txs: [][]byte{good1, good2}})
	if err != nil || resp.Results[0].TxId != TxID(good1) || resp.Results[1].TxId != TxID(good2) {
		t.Fatalf("after the store recovered: %v %v", resp, err)
	}
	// The stored mempool has the three, in arrival order, and nothing of the failed batch.
	tn.stop(p)
	p = tn.start(0)
	st, err = p.client.Status(ctx, &chainpb.StatusRequest{})
	if err != nil || st.Mempool != 3 {
		t.Fatalf("mempool after a restart: %v %v", st, err)
	}
	p.n.mu.Lock()
	var order []string
	for _, e := range p.n.mp.queue {
		order = append(order, TxID(e.tx))
	}
	p.n.mu.Unlock()
	if want := []string{pending, TxID(good1), TxID(good2)}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("mempool after a restart: %v, want %v", order, want)
	}
}

// stallProposer is a proposer's Peer service for the follower's forwarder: ForwardTxs hands
// each call to the test (calls) and answers what the test sends back (answers).
type stallProposer struct {
	chainpb.UnimplementedPeerServer
	calls   chan *chainpb.ForwardTxsRequest
	answers chan func(*chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error)
}

func (s *stallProposer) ForwardTxs(ctx context.Context, req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
	s.calls <- req
	select {
	case a := <-s.answers:
		return a(req)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// The follower's side of the protocol: each Submit gets its own answer; a wrong answer from the
// proposer is INTERNAL; a Submit whose deadline passes returns; Close ends a call in flight.
func TestForwarderAnswers(t *testing.T) {
	tn := newTestNet(t, 2)
	sp := &stallProposer{calls: make(chan *chainpb.ForwardTxsRequest, 10),
		answers: make(chan func(*chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error), 10)}
	srv := grpc.NewServer(ServerOptions()...)
	chainpb.RegisterPeerServer(srv, sp)
	go srv.Serve(tn.nodes[0].lis)
	defer srv.Stop()
	f := tn.start(1)
	ctx := context.Background()
	tx := func(i int) []byte { return mustEncode(t, callVat("counter", "increment", "[1]", uint64(i))) }
	type result struct {
		id  string
		err error
	}
	submitAsync := func(raw []byte) chan result {
		c := make(chan result, 1)
		go func() {
			r, err := f.client.Submit(ctx, &chainpb.SubmitRequest{TxBytes: raw})
			c <- result{r.GetTxId(), err}
		}()
		return c
	}
	nextCall := func() *chainpb.ForwardTxsRequest {
		select {
		case req := <-sp.calls:
			return req
		case <-time.After(10 * time.Second):
			t.Fatal("no ForwardTxs call")
			return nil
		}
	}
	get := func(c chan result) result {
		select {
		case r := <-c:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("Submit did not return")
			return result{}
		}
	}
	// A lone tx goes at once; its answer per result: admitted, refused, or a wrong id.
	cases := []struct {
		answer *chainpb.ForwardedTx
		code   codes.Code
		want   string
	}{
		{&chainpb.ForwardedTx{TxId: TxID(tx(0))}, codes.OK, ""},
		{&chainpb.ForwardedTx{Code: uint32(codes.ResourceExhausted), Message: "the mempool is full"}, codes.ResourceExhausted, "forwarded to the proposer val0 (" + tn.nodes[0].addr + "): the mempool is full"},
		{&chainpb.ForwardedTx{TxId: TxID(tx(99))}, codes.Internal, "answered tx id"},
		{&chainpb.ForwardedTx{Code: 99}, codes.Internal, "code 99"},
	}
	for i, c := range cases {
		done := submitAsync(tx(0))
		req := nextCall()
		if len(req.Txs) != 1 || TxID(req.Txs[0]) != TxID(tx(0)) {
			t.Fatalf("case %d: call with %d txs", i, len(req.Txs))
		}
		ans := c.answer
		sp.answers <- func(*chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
			return &chainpb.ForwardTxsResponse{Results: []*chainpb.ForwardedTx{ans}}, nil
		}
		r := get(done)
		if status.Code(r.err) != c.code || c.code == codes.OK && r.id != TxID(tx(0)) ||
			c.code != codes.OK && !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("case %d: %v %v, want %s %q", i, r.id, r.err, c.code, c.want)
		}
	}
	// Four calls in flight (the workers): what queues meanwhile goes in one call, answered per tx;
	// an answer with the wrong count fails the whole call, an RPC error goes to each tx.
	var first []chan result
	for i := 0; i < forwardWorkers; i++ {
		first = append(first, submitAsync(tx(10+i)))
		nextCall()
	}
	var queued []chan result
	for i := 0; i < 5; i++ {
		queued = append(queued, submitAsync(tx(20+i)))
	}
	waitFor(t, "5 txs queued", 10*time.Second, func() bool {
		f.n.fwd.mu.Lock()
		defer f.n.fwd.mu.Unlock()
		return len(f.n.fwd.queue) == 5
	})
	sp.answers <- func(req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
		return nil, status.Error(codes.Unavailable, "test: proposer busy")
	}
	req := nextCall() // the five, together
	if len(req.Txs) != 5 {
		t.Fatalf("the queued txs went in a call of %d", len(req.Txs))
	}
	// The other first calls get a wrong count; the five their own answers.
	for i := 0; i < forwardWorkers; i++ {
		sp.answers <- func(req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
			resp := &chainpb.ForwardTxsResponse{}
			if len(req.Txs) == 1 {
				return resp, nil
			}
			for i, raw := range req.Txs {
				if i == 2 {
					resp.Results = append(resp.Results, &chainpb.ForwardedTx{Code: uint32(codes.AlreadyExists), Message: "dup"})
				} else {
					resp.Results = append(resp.Results, &chainpb.ForwardedTx{TxId: TxID(raw)})
				}
			}
			return resp, nil
		}
	}
	failed := 0
	for _, c := range first {
		r := get(c)
		switch {
		case status.Code(r.err) == codes.Unavailable && strings.Contains(r.err.Error(), "forwarded to the proposer val0") && strings.Contains(r.err.Error(), "proposer busy"):
			failed++
		case status.Code(r.err) == codes.Internal && strings.Contains(r.err.Error(), "answered 0 results for 1"):
		default:
			t.Errorf("first calls: %v", r.err)
		}
	}
	if failed != 1 {
		t.Errorf("%d calls failed with the RPC error", failed)
	}
	for i, c := range queued {
		r := get(c)
		want := codes.OK
		if TxID(tx(20+i)) == TxID(req.Txs[2]) {
			want = codes.AlreadyExists
		}
		if status.Code(r.err) != want || want == codes.OK && r.id != TxID(tx(20+i)) {
			t.Errorf("queued %d: %v %v, want %s", i, r.id, r.err, want)
		}
	}
	// Batches stay within maxForwardMsgBytes: five queued txs of 250 kB go as four, then one.
	okAll := func(req *chainpb.ForwardTxsRequest) (*chainpb.ForwardTxsResponse, error) {
		resp := &chainpb.ForwardTxsResponse{}
		for _, raw := range req.Txs {
			resp.Results = append(resp.Results, &chainpb.ForwardedTx{TxId: TxID(raw)})
		}
		return resp, nil
	}
	var sized []chan result
	for i := 0; i < forwardWorkers; i++ {
		sized = append(sized, submitAsync(tx(50+i)))
		nextCall()
	}
	arg := `["` + strings.Repeat("x", 250000) + `"]`
	for i := 0; i < 5; i++ {
		sized = append(sized, submitAsync(mustEncode(t, callVat("counter", "store", arg, uint64(60+i)))))
	}
	waitFor(t, "5 large txs queued", 10*time.Second, func() bool {
		f.n.fwd.mu.Lock()
		defer f.n.fwd.mu.Unlock()
		return len(f.n.fwd.queue) == 5
	})
	for _, want := range []int{4, 1} {
		sp.answers <- okAll // frees a worker, which takes what fits
		if req := nextCall(); len(req.Txs) != want {
			t.Fatalf("a call of %d large txs, want %d", len(req.Txs), want)
		}
	}
	for i := 0; i < forwardWorkers; i++ {
		sp.answers <- okAll
	}
	for i, c := range sized {
		if r := get(c); r.err != nil {
			t.Errorf("sized %d: %v", i, r.err)
		}
	}
	// A Submit whose deadline passes returns while the call is in flight (the handler's wait,
	// seen on the node's side: the client would give up on its own).
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.n.fwd.forward(dctx, tx(30))
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Fatalf("Submit past its deadline: %v after %s", err, time.Since(start))
	}
	if req := nextCall(); TxID(req.Txs[0]) != TxID(tx(30)) {
		t.Fatalf("call of %d txs", len(req.Txs))
	}
	// Close ends the calls in flight (not after forwardTimeout) and the Submits waiting. The
	// Submit above still holds a worker.
	var atClose []chan result
	for i := 1; i < forwardWorkers; i++ {
		atClose = append(atClose, submitAsync(tx(30+i)))
		nextCall()
	}
	atClose = append(atClose, submitAsync(tx(40)))
	waitFor(t, "a tx queued", 10*time.Second, func() bool {
		f.n.fwd.mu.Lock()
		defer f.n.fwd.mu.Unlock()
		return len(f.n.fwd.queue) >= 1
	})
	start = time.Now()
	fn := f.n
	go func() {
		fn.Close()
	}()
	for _, c := range atClose {
		if r := get(c); r.err == nil {
			t.Errorf("a Submit at Close: admitted")
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Close took %s", time.Since(start))
	}
}
