// Command hostile drives a corpus of hostile vats and odd-but-valid transactions through two
// swingsetd servers started with different node flags, block by block, as the Go app of a
// validator would: with grpc-go's default client settings (4 MB messages, strict UTF-8 decoding
// of proto3 strings).
//
// Every block it checks that:
//   - both servers answer every call, and every answer decodes;
//   - both answers agree (all EndBlock fields but the non-consensus stats);
//   - a replay of the committed height returns the stored answer unchanged;
//   - both processes are still up and report SERVING.
//
// and, per scenario, what the answer must say (a lone surrogate reaches the vat and comes back
// intact, numbers are written as JSON.stringify writes them, a flooding vat does not starve later
// transactions, a dead vat or a dead mailbox handler gives a per-action error, ...).
//
// Usage: hostile --swingsetd PATH --vats DIR --work DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "swingsetd.dev/gen/swingsetdv1"
)

var (
	binary  = flag.String("swingsetd", "", "the swingsetd binary")
	vatsDir = flag.String("vats", "", "directory holding the corpus vats")
	workDir = flag.String("work", "", "scratch directory for data dirs and logs")
	rpcWait = flag.Duration("rpc-timeout", 120*time.Second, "deadline of one call")
)

// node is one swingsetd process and its client stubs.
type node struct {
	name    string
	dataDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	conn    *grpc.ClientConn
	lc      pb.LifecycleClient
	in      pb.InspectClient
	health  healthpb.HealthClient
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "hostile: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func startNode(name string, extra ...string) *node {
	n := &node{name: name, dataDir: filepath.Join(*workDir, name)}
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		fatalf("%v", err)
	}
	portFile := n.dataDir + ".port"
	os.Remove(portFile)
	n.logPath = n.dataDir + ".log"
	logFile, err := os.Create(n.logPath)
	if err != nil {
		fatalf("%v", err)
	}
	args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", n.dataDir,
		"--port-file", portFile, "--log-level", "warn"}, extra...)
	n.cmd = exec.Command(*binary, args...)
	n.cmd.Stdout = logFile
	n.cmd.Stderr = logFile
	if err := n.cmd.Start(); err != nil {
		fatalf("start %s: %v", name, err)
	}
	n.exited = make(chan struct{})
	go func() {
		n.cmd.Wait()
		close(n.exited)
	}()
	var port int
	for i := 0; i < 300 && port == 0; i++ {
		select {
		case <-n.exited:
			fatalf("%s exited at start:\n%s", name, n.log())
		default:
		}
		if b, err := ioutil.ReadFile(portFile); err == nil {
			port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if port == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if port == 0 {
		fatalf("%s did not start in 30 s", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// grpc-go's defaults on purpose: the answers must fit what a Go app accepts out of the box.
	n.conn, err = grpc.DialContext(ctx, fmt.Sprintf("127.0.0.1:%d", port), grpc.WithInsecure(),
		grpc.WithBlock())
	if err != nil {
		fatalf("dial %s: %v", name, err)
	}
	n.lc = pb.NewLifecycleClient(n.conn)
	n.in = pb.NewInspectClient(n.conn)
	n.health = healthpb.NewHealthClient(n.conn)
	return n
}

func (n *node) log() string {
	b, _ := ioutil.ReadFile(n.logPath)
	return string(b)
}

// checkUp fails unless the process runs and reports SERVING.
func (n *node) checkUp(when string) {
	select {
	case <-n.exited:
		fatalf("%s is down %s (%v):\n%s", n.name, when, n.cmd.ProcessState, n.log())
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := n.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		fatalf("%s health %s: %v %v", n.name, when, r, err)
	}
}

func (n *node) stop() {
	n.conn.Close()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), *rpcWait)
}

// cluster feeds the same blocks to every node and compares what they answer.
type cluster struct {
	nodes  []*node
	height int64
	nextID uint64
	// settled collects every host result promise's settlement, by kpid.
	settled map[string]*pb.PromiseResult
	// last is the first node's answer to the newest block.
	last *pb.EndBlockResponse
}

func (c *cluster) init(g *pb.Genesis) {
	var first *pb.InitResponse
	for _, n := range c.nodes {
		cx, cancel := ctx()
		r, err := n.lc.Init(cx, &pb.InitRequest{Genesis: g})
		cancel()
		if err != nil {
			fatalf("%s Init: %v", n.name, err)
		}
		if first == nil {
			first = r
		} else if r.StateHash != first.StateHash {
			fatalf("Init state hashes differ: %s %s", first.StateHash, r.StateHash)
		}
	}
	c.height = first.SavedHeight
}

func consensusPart(r *pb.EndBlockResponse) *pb.EndBlockResponse {
	c := proto.Clone(r).(*pb.EndBlockResponse)
	c.StatsJson = ""
	c.Replayed = false
	return c
}

// block runs one block of `actions` on every node, compares the answers, replays the height,
// and returns the first node's answer.
func (c *cluster) block(what string, actions []*pb.Action) *pb.EndBlockResponse {
	c.height++
	h := c.height
	var first *pb.EndBlockResponse
	for _, n := range c.nodes {
		cx, cancel := ctx()
		if _, err := n.lc.BeginBlock(cx, &pb.BeginBlockRequest{Height: h, TimeUnix: 1700000000 + h}); err != nil {
			fatalf("%s BeginBlock(%d) [%s]: %v", n.name, h, what, err)
		}
		start := time.Now()
		r, err := n.lc.EndBlock(cx, &pb.EndBlockRequest{Height: h, Actions: actions})
		if err != nil {
			fatalf("%s EndBlock(%d) [%s] after %v: %v\n%s", n.name, h, what, time.Since(start), err, n.log())
		}
		if _, err := n.lc.Commit(cx, &pb.CommitRequest{Height: h}); err != nil {
			fatalf("%s Commit(%d) [%s]: %v", n.name, h, what, err)
		}
		// The replay of a committed height: the stored answer, unchanged.
		br, err := n.lc.BeginBlock(cx, &pb.BeginBlockRequest{Height: h, TimeUnix: 1700000000 + h})
		if err != nil || !br.Replay {
			fatalf("%s BeginBlock replay(%d) [%s]: %v %v", n.name, h, what, br, err)
		}
		rr, err := n.lc.EndBlock(cx, &pb.EndBlockRequest{Height: h, Actions: actions})
		if err != nil {
			fatalf("%s EndBlock replay(%d) [%s]: %v", n.name, h, what, err)
		}
		if !rr.Replayed || !proto.Equal(consensusPart(rr), consensusPart(r)) {
			fatalf("%s replay of %d [%s] differs:\n%s\nvs\n%s", n.name, h, what,
				prototext.Format(rr), prototext.Format(r))
		}
		if _, err := n.lc.Commit(cx, &pb.CommitRequest{Height: h}); err != nil {
			fatalf("%s Commit replay(%d) [%s]: %v", n.name, h, what, err)
		}
		cancel()
		if first == nil {
			first = r
		} else if !proto.Equal(consensusPart(r), consensusPart(first)) {
			fatalf("block %d [%s]: %s and %s disagree:\n%s\nvs\n%s", h, what, c.nodes[0].name,
				n.name, prototext.Format(consensusPart(first)), prototext.Format(consensusPart(r)))
		}
		n.checkUp(fmt.Sprintf("after block %d [%s]", h, what))
	}
	for _, s := range first.Settled {
		c.settled[s.Kpid] = s
	}
	c.last = first
	return first
}

func (c *cluster) call(vat, method string, argsJSON string) *pb.Action {
	c.nextID++
	return &pb.Action{Id: c.nextID, Kind: &pb.Action_CallVat{CallVat: &pb.CallVat{
		Vat: vat, Method: method, ArgsJson: argsJSON}}}
}

func (c *cluster) inbound(peer string, ack uint64, bodies map[uint64]string) *pb.Action {
	c.nextID++
	d := &pb.DeliverInbound{Peer: peer, Ack: ack}
	for num := uint64(1); num < 1<<20; num++ {
		if b, ok := bodies[num]; ok {
			d.Messages = append(d.Messages, &pb.MailboxMessage{Num: num, Body: b})
		}
		if len(d.Messages) == len(bodies) {
			break
		}
	}
	return &pb.Action{Id: c.nextID, Kind: &pb.Action_DeliverInbound{DeliverInbound: d}}
}

// resultOf finds the result of action `id` in a block answer.
func resultOf(r *pb.EndBlockResponse, id uint64) *pb.ActionResult {
	for _, a := range r.Results {
		if a.Id == id {
			return a
		}
	}
	return nil
}

// run runs `actions` in one block, then empty blocks until every call's result promise settled
// (at most `blocks` blocks in all), and returns the settlements in action order.
func (c *cluster) run(what string, blocks int, actions ...*pb.Action) []*pb.PromiseResult {
	r := c.block(what, actions)
	if int(r.ActionsConsumed) != len(actions) {
		fatalf("[%s] %d of %d actions consumed", what, r.ActionsConsumed, len(actions))
	}
	kpids := make([]string, len(actions))
	for i, a := range actions {
		res := resultOf(r, a.Id)
		if res == nil {
			fatalf("[%s] no result for action %d", what, a.Id)
		}
		if res.Error != "" {
			fatalf("[%s] action %d failed: %s", what, a.Id, res.Error)
		}
		kpids[i] = res.ResultKpid
	}
	out := make([]*pb.PromiseResult, len(actions))
	for b := 1; ; b++ {
		done := true
		for i, k := range kpids {
			if out[i] == nil {
				out[i] = c.settled[k]
			}
			if out[i] == nil {
				done = false
			}
		}
		if done {
			return out
		}
		if b >= blocks {
			fatalf("[%s] results not settled within %d blocks", what, blocks)
		}
		c.block(what+" (settling)", nil)
	}
}

func expectValue(what string, s *pb.PromiseResult, state, valueJSON string) {
	if s.State != state || s.ValueJson != valueJSON {
		fatalf("[%s] got %s %q, want %s %q", what, s.State, s.ValueJson, state, valueJSON)
	}
}

func readVat(name string) string {
	b, err := ioutil.ReadFile(filepath.Join(*vatsDir, name))
	if err != nil {
		fatalf("%v", err)
	}
	return string(b)
}

func main() {
	flag.Parse()
	if *binary == "" || *vatsDir == "" || *workDir == "" {
		fatalf("usage: hostile --swingsetd PATH --vats DIR --work DIR")
	}
	os.RemoveAll(*workDir)
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		fatalf("%v", err)
	}
	started := time.Now()
	// Two nodes whose node-local settings differ: outcomes must not.
	c := &cluster{settled: map[string]*pb.PromiseResult{}}
	c.nodes = []*node{
		startNode("a", "--js-heap-limit-mib", "1024"),
		startNode("b", "--js-heap-limit-mib", "768", "--testing-extra-gcs-per-delivery", "1"),
	}
	defer func() {
		for _, n := range c.nodes {
			n.stop()
		}
	}()

	hostile := readVat("hostile.js")
	c.init(&pb.Genesis{
		ChainId: "hostile-corpus",
		Vats: []*pb.VatConfig{
			{Name: "bootstrap", Source: readVat("bootstrap.js")},
			{Name: "vattp", Source: readVat("vattp.js")},
			{Name: "hostile", Source: hostile},
			{Name: "hostile2", Source: hostile},
		},
		BootstrapVat: "bootstrap",
		MailboxPeers: []string{"peer1", "peer2"},
		// Params left at their defaults: the defaults must be safe.
	})

	// Bootstrap (the default budget may spread it over a few blocks).
	for i := 0; ; i++ {
		if i == 10 {
			fatalf("bootstrap did not finish in 10 blocks")
		}
		if r := c.block("bootstrap", nil); !r.WorkRemains {
			break
		}
	}
	check := func(name string) { fmt.Printf("ok   %-44s (height %d)\n", name, c.height) }

	// 1. Strings that are not UTF-8 as they are: lone surrogates, in both directions.
	s := c.run("lone surrogates", 5,
		c.call("hostile", "loneSurrogate", ""),
		c.call("hostile", "surrogates", ""),
		c.call("hostile", "echo", `["\ud800"]`),
		c.call("hostile", "codeUnits", `["a\ud800b\udc00"]`),
		c.call("hostile", "echo", `[{"\udbff":["\udfff","é😀"]}]`),
		c.call("hostile", "throws", ""))
	expectValue("loneSurrogate", s[0], "fulfilled", `"a\ud800b"`)
	expectValue("surrogates", s[1], "fulfilled",
		`["\udc00","\ud83d","x😀y","\ud800\ud800",{"\udfff":"\ud800"}]`)
	expectValue("echo lone", s[2], "fulfilled", `"\ud800"`)
	expectValue("codeUnits", s[3], "fulfilled", `[97,55296,98,56320]`)
	expectValue("echo object", s[4], "fulfilled", `{"\udbff":["\udfff","é😀"]}`)
	if s[5].State != "rejected" || !strings.Contains(s[5].Body, "thrown on purpose") {
		fatalf("[throws] got %s %q", s[5].State, s[5].Body)
	}
	check("lone surrogates through results and args")

	// 2. Mail whose body holds a lone surrogate, and ordinary mail and inbound traffic.
	s = c.run("mail", 5,
		c.call("bootstrap", "send", `["peer1","x\ud800y"]`),
		c.call("bootstrap", "send", `["peer1","fine"]`))
	if s[1].State != "fulfilled" {
		fatalf("[mail] an ordinary body was refused: %s %s", s[1].State, s[1].Body)
	}
	c.block("inbound", []*pb.Action{c.inbound("peer1", 0, map[uint64]string{1: "hi", 2: "é😀"})})
	c.block("inbound settle", nil)
	check("mail with lone surrogates, inbound mail")

	// 3. Numbers as JSON.stringify writes them.
	s = c.run("numbers", 5, c.call("hostile", "numbers", ""))
	expectValue("numbers", s[0], "fulfilled",
		`[0.1,1e+21,1e-7,0,9007199254740994,1.7976931348623157e+308,5e-324,1.23e-18,100,0.000001]`)
	check("numbers")

	// 4. A result with 40,000 keys: the kernel parses it in linear time; it is larger than a
	// result may be (max_result_bytes), so it is reported without its body.
	t0 := time.Now()
	s = c.run("many keys", 5, c.call("hostile", "manyKeys", `[40000]`))
	if s[0].State != "fulfilled" || s[0].Error == "" || s[0].ValueJson != "" {
		fatalf("[many keys] got %s %q %.60q", s[0].State, s[0].Error, s[0].ValueJson)
	}
	s = c.run("some keys", 5, c.call("hostile", "manyKeys", `[3]`))
	expectValue("some keys", s[0], "fulfilled", `{"k0":0,"k1":1,"k2":2}`)
	if d := time.Since(t0); d > 60*time.Second {
		fatalf("[many keys] took %v", d)
	}
	check("an object with 40,000 keys")

	// 5. WebAssembly is not there.
	s = c.run("wasm", 5, c.call("hostile", "wasm", ""))
	expectValue("wasm", s[0], "fulfilled", `["undefined","undefined"]`)
	check("no WebAssembly")

	// 6. An 8 MB answer: reported without its body, and the block answer still fits a default Go
	// client (checked by the call itself).
	s = c.run("big result", 5, c.call("hostile", "bigResult", `[8000000]`))
	if s[0].Error == "" || s[0].Body != "" {
		fatalf("[big result] reported with its body (%d bytes) and error %q", len(s[0].Body), s[0].Error)
	}
	check("an 8 MB result")

	// 7. Memory bombs: the same outcome on both nodes whatever their heap limits.
	s = c.run("memory bombs", 5,
		c.call("hostile", "arrayBufferBomb", `[2147483648]`),
		c.call("hostile", "stringBomb", `[268435456]`))
	for i, r := range s {
		if r.State != "rejected" {
			fatalf("[memory bombs] bomb %d was not refused: %s %.80q", i, r.State, r.ValueJson)
		}
	}
	check("ArrayBuffer and string bombs")

	// 8. A vat that floods the run-queue for ever: blocks still end, later transactions are
	// admitted and answered.
	r := c.block("flood", []*pb.Action{c.call("hostile", "flood", "")})
	floodStart := time.Now()
	s = c.run("ping during flood", 10, c.call("bootstrap", "ping", ""))
	expectValue("ping during flood", s[0], "fulfilled", `"pong"`)
	if !c.last.WorkRemains {
		fatalf("[flood] the flood stopped by itself")
	}
	_ = r
	check(fmt.Sprintf("a flood does not starve others (%.1fs)", time.Since(floodStart).Seconds()))

	// 9. The flood's partner dies: calls to a dead vat are a per-action error, not a refused block.
	c.run("kill hostile2", 10, c.call("hostile2", "die", ""))
	dead := c.call("hostile2", "ping", "")
	alive := c.call("bootstrap", "ping", "")
	r = c.block("call a dead vat", []*pb.Action{dead, alive})
	if r.ActionsConsumed != 2 {
		fatalf("[dead vat] %d of 2 actions consumed", r.ActionsConsumed)
	}
	if res := resultOf(r, dead.Id); res == nil || res.Error == "" {
		fatalf("[dead vat] no per-action error: %v", res)
	}
	if res := resultOf(r, alive.Id); res == nil || res.Error != "" {
		fatalf("[dead vat] the next action failed: %v", res)
	}
	unknown := c.call("nosuchvat", "ping", "")
	r = c.block("call an unknown vat", []*pb.Action{unknown})
	if res := resultOf(r, unknown.Id); res == nil || res.Error == "" {
		fatalf("[unknown vat] no per-action error: %v", res)
	}
	for i := 0; i < 20 && c.last.WorkRemains; i++ {
		c.block("drain", nil)
	}
	check("calls to a dead or unknown vat")

	// 10. One delivery that enqueues very many sends.
	c.run("fan out", 20, c.call("hostile", "fanOut", `[200000]`))
	for i := 0; i < 40 && c.last.WorkRemains; i++ {
		c.block("fan out drain", nil)
	}
	check("one delivery fanning out 200,000 sends")

	// 11. The mailbox handler dies: inbound mail is refused per action and not acknowledged.
	c.run("kill vattp", 10, c.call("vattp", "die", ""))
	in := c.inbound("peer2", 0, map[uint64]string{1: "lost?"})
	r = c.block("inbound to a dead vattp", []*pb.Action{in})
	if res := resultOf(r, in.Id); res != nil && res.Error == "" {
		fatalf("[dead vattp] inbound mail consumed without error")
	}
	for _, n := range c.nodes {
		cx, cancel := ctx()
		mb, err := n.in.GetMailbox(cx, &pb.GetMailboxRequest{Peer: "peer2"})
		cancel()
		if err != nil {
			fatalf("%s GetMailbox: %v", n.name, err)
		}
		for _, m := range mb.Mailboxes {
			if m.Peer == "peer2" && (m.Ack != 0 || m.InboundDelivered != 0) {
				fatalf("[dead vattp] %s took mail no vat received: %v", n.name, m)
			}
		}
	}
	check("inbound mail to a dead mailbox vat")

	// Inspect answers decode too (vat names, termination reasons, stored values).
	for _, n := range c.nodes {
		cx, cancel := ctx()
		if _, err := n.in.ListVats(cx, &pb.ListVatsRequest{}); err != nil {
			fatalf("%s ListVats: %v", n.name, err)
		}
		page := ""
		for i := 0; i < 200; i++ {
			kv, err := n.in.ScanKV(cx, &pb.ScanKVRequest{PageToken: page})
			if err != nil {
				fatalf("%s ScanKV: %v", n.name, err)
			}
			if page = kv.NextPageToken; page == "" {
				break
			}
		}
		cancel()
	}
	check("Inspect answers decode")

	var stats map[string]interface{}
	json.Unmarshal([]byte(c.last.StatsJson), &stats)
	fmt.Printf("hostile: %d blocks, final state hash %s, %.1fs\n", c.height, c.last.StateHash,
		time.Since(started).Seconds())
	fmt.Println("hostile: every scenario passed")
}
