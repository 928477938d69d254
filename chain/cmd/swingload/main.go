// Command swingload is the testnet's load generator and checker (deploy/testnet.sh,
// tests/testnet_*_test.sh, docs/BENCHMARKS.md). It talks to swingchain nodes' tx service only.
//
//	swingload run   --nodes A,B,... [--txs N] [--rate R] [--concurrency C] [--seed S] [--timeout D]
//	swingload agree --nodes A,B,... [--from H] [--to H] [--timeout D]
//	swingload halted --nodes A,B,... [--timeout D]
//
// run: submits N random call_vat txs to the demo vats (deploy/demo_vats), round-robin over the
// nodes, at R txs/s (0: as fast as the nodes take them, C in flight), then waits until each is
// in a committed block and checks through GetTx that each has its action result. It follows
// the chain's blocks on the first node as they commit (GetBlock of the next height, polled) and
// reports: txs/s from the first submit to the last tx's block commit, submit-to-commit latency
// p50/p99, and block time (between consecutive commits as observed) p50/p99, as text and one
// JSON line starting "swingload-result ".
//
// agree: waits until every node has committed height --to (default: the first node's height
// now) and compares the app hash of every height from --from (default 1) on every node; the
// first difference is an error naming the height and the nodes.
//
// halted: waits until every node that answers reports the chain halted, and prints each one's
// halt reason (a node that stopped answering is listed as such).
//
// Exit status: 0 ok, 1 a check failed or timed out, 64 bad command line.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	chainpb "swingsetd.dev/gen/swingchainv1"
	swpb "swingsetd.dev/gen/swingsetdv1"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "agree":
		err = cmdAgree(os.Args[2:])
	case "halted":
		err = cmdHalted(os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "swingload: unknown command %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "swingload: %v\n", err)
			os.Exit(64)
		}
		fmt.Fprintf(os.Stderr, "swingload: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  swingload run    --nodes A,B,... [--txs 2000] [--rate 0] [--concurrency 64] [--seed 1] [--timeout 10m]
  swingload agree  --nodes A,B,... [--from 1] [--to H] [--timeout 2m]
  swingload halted --nodes A,B,... [--timeout 2m]`)
	os.Exit(64)
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func parseNodes(s string) ([]string, error) {
	if s == "" {
		return nil, usageError{"--nodes is required (comma-separated HOST:PORT list)"}
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, usageError{fmt.Sprintf("--nodes %q has an empty address", s)}
		}
		out = append(out, a)
	}
	return out, nil
}

func dialAll(ctx context.Context, addrs []string) ([]chainpb.ChainClient, func(), error) {
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	var clients []chainpb.ChainClient
	for _, a := range addrs {
		// Not WithBlock: a node that is down (restarting) is retried per call.
		c, err := grpc.DialContext(ctx, a, grpc.WithInsecure(),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("dial %s: %w", a, err)
		}
		conns = append(conns, c)
		clients = append(clients, chainpb.NewChainClient(c))
	}
	return clients, closeAll, nil
}

// ------------------------------------------------------------------------------------ run

// One random call to the demo vats. Every tx is a call_vat; the mix exercises plain results,
// eventual sends across vats, exported objects, rejections and vat-held data.
func randomCall(r *rand.Rand) *swpb.CallVat {
	key := fmt.Sprintf("k%d", r.Intn(16))
	switch n := r.Intn(100); {
	case n < 35:
		return &swpb.CallVat{Vat: "counter", Method: "increment", ArgsJson: fmt.Sprintf("[%d]", 1+r.Intn(9))}
	case n < 45:
		return &swpb.CallVat{Vat: "counter", Method: "get"}
	case n < 55:
		return &swpb.CallVat{Vat: "counter", Method: "echo", ArgsJson: fmt.Sprintf(`["a",%d,{"b":[true,null]}]`, r.Intn(1000))}
	case n < 65:
		return &swpb.CallVat{Vat: "counter", Method: "store", ArgsJson: fmt.Sprintf(`[%q,%d]`, key, r.Intn(1<<20))}
	case n < 75:
		return &swpb.CallVat{Vat: "counter", Method: "load", ArgsJson: fmt.Sprintf(`[%q]`, key)}
	case n < 82:
		return &swpb.CallVat{Vat: "bootstrap", Method: "ping"}
	case n < 88:
		return &swpb.CallVat{Vat: "bootstrap", Method: "relay", ArgsJson: `["counter","get",[]]`}
	case n < 92:
		return &swpb.CallVat{Vat: "counter", Method: "chain", ArgsJson: fmt.Sprintf("[%d]", r.Intn(4))}
	case n < 96:
		return &swpb.CallVat{Vat: "counter", Method: "makeThing", ArgsJson: fmt.Sprintf(`["t%d"]`, r.Intn(100))}
	default:
		return &swpb.CallVat{Vat: "counter", Method: "fail", ArgsJson: `["planned failure"]`}
	}
}

type txState struct {
	id        string
	submitted time.Time
	committed time.Time
	height    int64
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	nodesFlag := fs.String("nodes", "", "comma-separated node addresses (HOST:PORT); blocks are followed on the first")
	n := fs.Int("txs", 2000, "number of txs")
	rate := fs.Float64("rate", 0, "submit rate in txs/s (0: as fast as accepted)")
	conc := fs.Int("concurrency", 64, "submits in flight at most")
	seed := fs.Int64("seed", 1, "seed of the random tx mix")
	nonceBase := fs.Uint64("nonce-base", 0, "nonce of the first tx, the next ones count up (0: from the clock, so every run's txs are new)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	nodes, err := parseNodes(*nodesFlag)
	if err != nil {
		return err
	}
	if *n <= 0 || *conc <= 0 || *rate < 0 || *timeout <= 0 {
		return usageError{"--txs and --concurrency must be positive, --rate >= 0, --timeout > 0"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	clients, closeAll, err := dialAll(ctx, nodes)
	if err != nil {
		return err
	}
	defer closeAll()

	st, err := callStatus(ctx, clients[0])
	if err != nil {
		return fmt.Errorf("status of %s: %w", nodes[0], err)
	}
	if st.GetHalted() {
		return fmt.Errorf("%s: the chain is halted: %s", nodes[0], st.GetHaltReason())
	}
	startHeight := st.GetHeight()

	// Make the txs up front (the generator's own time is not measured).
	r := rand.New(rand.NewSource(*seed))
	base := *nonceBase
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	}
	txs := make([]*chainpb.Tx, *n)
	for i := range txs {
		txs[i] = &chainpb.Tx{
			Action: &chainpb.Tx_CallVat{CallVat: randomCall(r)},
			Nonce:  base + uint64(i),
		}
	}
	states := make([]txState, *n)
	var mu sync.Mutex
	byID := make(map[string]int, *n)

	// Follow committed blocks on the first node.
	type blockSeen struct {
		height int64
		at     time.Time
		txs    int
	}
	var blocks []blockSeen
	var committedCount int64
	followErr := make(chan error, 1)
	followDone := make(chan struct{})
	stopFollow := make(chan struct{})
	go func() {
		defer close(followDone)
		h := startHeight + 1
		for {
			select {
			case <-stopFollow:
				followErr <- nil
				return
			case <-ctx.Done():
				followErr <- ctx.Err()
				return
			default:
			}
			resp, err := clients[0].GetBlock(ctx, &chainpb.GetBlockRequest{Height: h})
			if status.Code(err) == codes.NotFound {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil {
				if status.Code(err) == codes.Unavailable {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				followErr <- fmt.Errorf("GetBlock(%d) on %s: %w", h, nodes[0], err)
				return
			}
			now := time.Now()
			ids := resp.GetBlock().GetTxIds()
			mu.Lock()
			blocks = append(blocks, blockSeen{height: h, at: now, txs: len(ids)})
			for _, id := range ids {
				if i, ok := byID[id]; ok && states[i].committed.IsZero() {
					states[i].committed = now
					states[i].height = h
					atomic.AddInt64(&committedCount, 1)
				}
			}
			mu.Unlock()
			h++
		}
	}()

	// Submit.
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(time.Second) / *rate)
	}
	start := time.Now()
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	var submitErr error
	var errOnce sync.Once
	var retries int64
	for i := 0; i < *n; i++ {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c := clients[i%len(clients)]
			for attempt := 0; ; attempt++ {
				t0 := time.Now()
				resp, err := c.Submit(ctx, &chainpb.SubmitRequest{Tx: txs[i]})
				if err == nil {
					mu.Lock()
					states[i].id = resp.GetTxId()
					states[i].submitted = t0
					byID[resp.GetTxId()] = i
					mu.Unlock()
					return
				}
				code := status.Code(err)
				// A full mempool or a node restarting: back off and try again (same tx, same id).
				// ALREADY_EXISTS after a retry means an earlier attempt got through.
				if code == codes.AlreadyExists && attempt > 0 {
					id := txID(txs[i])
					mu.Lock()
					states[i].id = id
					states[i].submitted = t0
					byID[id] = i
					mu.Unlock()
					return
				}
				if (code == codes.ResourceExhausted || code == codes.Unavailable) && ctx.Err() == nil {
					atomic.AddInt64(&retries, 1)
					time.Sleep(time.Duration(10*(1+attempt%10)) * time.Millisecond)
					continue
				}
				errOnce.Do(func() { submitErr = fmt.Errorf("submit tx %d to %s: %w", i, nodes[i%len(nodes)], err) })
				return
			}
		}(i)
	}
	wg.Wait()
	submitEnd := time.Now()
	if submitErr != nil {
		close(stopFollow)
		<-followDone
		return submitErr
	}
	// Blocks may have committed before Submit returned and byID knew the id: rescan them.
	rescan := func() error {
		mu.Lock()
		var missing []int
		for i := range states {
			if states[i].committed.IsZero() {
				missing = append(missing, i)
			}
		}
		mu.Unlock()
		for _, i := range missing {
			resp, err := clients[0].GetTx(ctx, &chainpb.GetTxRequest{TxId: states[i].id})
			if err != nil || resp.GetStatus() != "committed" {
				continue
			}
			mu.Lock()
			if states[i].committed.IsZero() {
				// Committed in a block we saw before knowing the id: its block's observation time.
				for _, b := range blocks {
					if b.height == resp.GetHeight() {
						states[i].committed = b.at
					}
				}
				if states[i].committed.IsZero() {
					states[i].committed = time.Now()
				}
				states[i].height = resp.GetHeight()
				atomic.AddInt64(&committedCount, 1)
			}
			mu.Unlock()
		}
		return nil
	}
	rescan()
	for atomic.LoadInt64(&committedCount) < int64(*n) {
		select {
		case err := <-followErr:
			return fmt.Errorf("following blocks: %v (%d of %d txs committed)", err, atomic.LoadInt64(&committedCount), *n)
		case <-time.After(200 * time.Millisecond):
		}
		if ctx.Err() != nil {
			return fmt.Errorf("timeout: %d of %d txs committed", atomic.LoadInt64(&committedCount), *n)
		}
		rescan()
	}
	close(stopFollow)
	<-followDone

	// Results: each tx's action result through GetTx, on a node chosen round-robin.
	var lat []time.Duration
	var last time.Time
	minH, maxH := int64(1<<62), int64(0)
	for i := range states {
		lat = append(lat, states[i].committed.Sub(states[i].submitted))
		if states[i].committed.After(last) {
			last = states[i].committed
		}
		if states[i].height < minH {
			minH = states[i].height
		}
		if states[i].height > maxH {
			maxH = states[i].height
		}
	}
	results, settled, actionErrors, err := checkResults(ctx, clients, states)
	if err != nil {
		return err
	}
	var blockTimes []time.Duration
	for i := 1; i < len(blocks); i++ {
		if blocks[i].height <= maxH {
			blockTimes = append(blockTimes, blocks[i].at.Sub(blocks[i-1].at))
		}
	}
	elapsed := last.Sub(start)
	res := map[string]interface{}{
		"txs":               *n,
		"nodes":             len(nodes),
		"submit_seconds":    submitEnd.Sub(start).Seconds(),
		"elapsed_seconds":   elapsed.Seconds(),
		"txs_per_second":    float64(*n) / elapsed.Seconds(),
		"latency_p50_ms":    ms(percentile(lat, 0.5)),
		"latency_p99_ms":    ms(percentile(lat, 0.99)),
		"first_height":      minH,
		"last_height":       maxH,
		"blocks":            maxH - startHeight,
		"block_time_p50_ms": ms(percentile(blockTimes, 0.5)),
		"block_time_p99_ms": ms(percentile(blockTimes, 0.99)),
		"results":           results,
		"settled":           settled,
		"action_errors":     actionErrors,
		"submit_retries":    atomic.LoadInt64(&retries),
	}
	fmt.Printf("swingload: %d txs over %d nodes in %.2f s (submitting took %.2f s): %.0f txs/s submit->committed\n",
		*n, len(nodes), elapsed.Seconds(), submitEnd.Sub(start).Seconds(), float64(*n)/elapsed.Seconds())
	fmt.Printf("swingload: heights %d..%d (%d blocks since start); latency p50 %.1f ms p99 %.1f ms; block time p50 %.1f ms p99 %.1f ms\n",
		minH, maxH, maxH-startHeight, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)),
		ms(percentile(blockTimes, 0.5)), ms(percentile(blockTimes, 0.99)))
	fmt.Printf("swingload: %d action results (%d settled, %d action errors), %d submit retries\n",
		results, settled, actionErrors, atomic.LoadInt64(&retries))
	j, _ := json.Marshal(res)
	fmt.Printf("swingload-result %s\n", j)
	return nil
}

// txID is a tx's id as the node computes it: hex SHA-256 of its deterministic encoding. Only
// needed when a retried Submit says ALREADY_EXISTS (an earlier attempt got through).
func txID(tx *chainpb.Tx) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tx)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkResults asks for every tx and checks that it is committed with an action result (a
// result promise, or the action's error). Settled values come later for some (chain(n) takes a
// few cranks): they are counted, not required.
func checkResults(ctx context.Context, clients []chainpb.ChainClient, states []txState) (results, settled, actionErrors int, err error) {
	type out struct {
		result, settled, actionErr bool
		err                        error
	}
	outs := make([]out, len(states))
	var next int64 = -1
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= len(states) {
					return
				}
				c := clients[i%len(clients)]
				var resp *chainpb.GetTxResponse
				var err error
				// The tx's result may come a block after its own (left-over kernel work).
				for tries := 0; tries < 200; tries++ {
					resp, err = c.GetTx(ctx, &chainpb.GetTxRequest{TxId: states[i].id})
					if err == nil && resp.GetResult() != nil {
						break
					}
					if err != nil && status.Code(err) != codes.NotFound && status.Code(err) != codes.Unavailable {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if err != nil {
					outs[i].err = fmt.Errorf("GetTx %s: %w", states[i].id, err)
					continue
				}
				if resp.GetStatus() != "committed" || resp.GetResult() == nil {
					outs[i].err = fmt.Errorf("tx %s: status %q, no action result after waiting", states[i].id, resp.GetStatus())
					continue
				}
				outs[i].result = true
				outs[i].actionErr = resp.GetResult().GetError() != ""
				outs[i].settled = resp.GetSettled() != nil
			}
		}()
	}
	wg.Wait()
	for _, o := range outs {
		if o.err != nil {
			return 0, 0, 0, o.err
		}
		if o.result {
			results++
		}
		if o.settled {
			settled++
		}
		if o.actionErr {
			actionErrors++
		}
	}
	return results, settled, actionErrors, nil
}

func callStatus(ctx context.Context, c chainpb.ChainClient) (*chainpb.StatusResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Status(cctx, &chainpb.StatusRequest{})
}

// ------------------------------------------------------------------------------------ agree

func cmdAgree(args []string) error {
	fs := flag.NewFlagSet("agree", flag.ContinueOnError)
	nodesFlag := fs.String("nodes", "", "comma-separated node addresses")
	from := fs.Int64("from", 1, "first height to compare")
	to := fs.Int64("to", 0, "last height to compare (0: the first node's height now)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for every node to reach --to")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	nodes, err := parseNodes(*nodesFlag)
	if err != nil {
		return err
	}
	if *from < 1 || *to < 0 || (*to > 0 && *to < *from) {
		return usageError{"--from must be >= 1 and --to >= --from"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	clients, closeAll, err := dialAll(ctx, nodes)
	if err != nil {
		return err
	}
	defer closeAll()
	target := *to
	if target == 0 {
		st, err := callStatus(ctx, clients[0])
		if err != nil {
			return fmt.Errorf("status of %s: %w", nodes[0], err)
		}
		target = st.GetHeight()
	}
	// Wait for every node to reach the target height.
	for i, c := range clients {
		for {
			st, err := callStatus(ctx, c)
			if err == nil && st.GetHalted() {
				return fmt.Errorf("%s is halted: %s", nodes[i], st.GetHaltReason())
			}
			if err == nil && st.GetHeight() >= target {
				break
			}
			if ctx.Err() != nil {
				h := int64(-1)
				if st != nil {
					h = st.GetHeight()
				}
				return fmt.Errorf("%s did not reach height %d in %s (height %d, last error %v)", nodes[i], target, *timeout, h, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for h := *from; h <= target; h++ {
		hashes := make([]string, len(clients))
		for i, c := range clients {
			resp, err := c.GetBlock(ctx, &chainpb.GetBlockRequest{Height: h})
			if err != nil {
				return fmt.Errorf("GetBlock(%d) on %s: %w", h, nodes[i], err)
			}
			if resp.GetBlock().GetBlock().GetHeight() != h {
				return fmt.Errorf("GetBlock(%d) on %s answered height %d", h, nodes[i], resp.GetBlock().GetBlock().GetHeight())
			}
			hashes[i] = hex.EncodeToString(resp.GetBlock().GetAppHash())
		}
		for i := 1; i < len(hashes); i++ {
			if hashes[i] != hashes[0] {
				var parts []string
				for j := range hashes {
					parts = append(parts, fmt.Sprintf("%s=%s", nodes[j], hashes[j]))
				}
				return fmt.Errorf("app hashes differ at height %d: %s", h, strings.Join(parts, " "))
			}
		}
	}
	fmt.Printf("swingload: %d nodes agree on the app hash of every height %d..%d\n", len(nodes), *from, target)
	return nil
}

// ------------------------------------------------------------------------------------ halted

func cmdHalted(args []string) error {
	fs := flag.NewFlagSet("halted", flag.ContinueOnError)
	nodesFlag := fs.String("nodes", "", "comma-separated node addresses")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the halt")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	nodes, err := parseNodes(*nodesFlag)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	clients, closeAll, err := dialAll(ctx, nodes)
	if err != nil {
		return err
	}
	defer closeAll()
	for {
		done, halted := true, 0
		var lines []string
		for i, c := range clients {
			st, err := callStatus(ctx, c)
			switch {
			case err != nil && (status.Code(err) == codes.Unavailable || status.Code(err) == codes.DeadlineExceeded):
				lines = append(lines, fmt.Sprintf("%s: not answering (%v)", nodes[i], status.Convert(err).Message()))
			case err != nil:
				return fmt.Errorf("status of %s: %w", nodes[i], err)
			case st.GetHalted():
				halted++
				lines = append(lines, fmt.Sprintf("%s: halted at height %d: %s", nodes[i], st.GetHeight(), st.GetHaltReason()))
			default:
				done = false
				lines = append(lines, fmt.Sprintf("%s: running, height %d", nodes[i], st.GetHeight()))
			}
		}
		if done && halted > 0 {
			for _, l := range lines {
				fmt.Println("swingload: " + l)
			}
			return nil
		}
		if ctx.Err() != nil {
			for _, l := range lines {
				fmt.Fprintln(os.Stderr, "swingload: "+l)
			}
			return fmt.Errorf("the chain did not halt within %s", *timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
