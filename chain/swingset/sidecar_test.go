package swingset_test

// Tests with the real sidecar: SWINGSETD names the swingsetd binary, DEMO_VATS the demo vats
// (deploy/demo_vats) and HOSTILE_VATS the hostile corpus's vats (tests/go/hostile/vats); CTest
// sets them (go_keeper_test). Without SWINGSETD these tests are skipped.

import (
	"context"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/swingset"
	"swingsetd.dev/chain/swingset/swingsettest"
	pb "swingsetd.dev/gen/swingsetdv1"
)

func swingsetdBinary(t testing.TB) string {
	b := os.Getenv("SWINGSETD")
	if b == "" {
		if os.Getenv("SWINGSET_REQUIRE_SIDECAR") != "" {
			t.Fatal("SWINGSETD is not set")
		}
		t.Skip("SWINGSETD is not set (the path of the swingsetd binary)")
	}
	return b
}

func vatsDir(env, def string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	return def
}

func readVat(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := ioutil.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// demoGenesis is tests/demo_driver.cc's genesis: the demo vats, peers alice and bob.
func demoGenesis(t testing.TB) *pb.Genesis {
	dir := vatsDir("DEMO_VATS", "../../deploy/demo_vats")
	return &pb.Genesis{
		ChainId: "swingsetd-demo",
		Vats: []*pb.VatConfig{
			{Name: "bootstrap", Source: readVat(t, dir, "bootstrap.js")},
			{Name: "vattp", Source: readVat(t, dir, "vattp.js")},
			{Name: "counter", Source: readVat(t, dir, "counter.js"), ParametersJson: `{"start":0}`},
		},
		BootstrapVat: "bootstrap",
		MailboxPeers: []string{"alice", "bob"},
	}
}

// sidecar is a swingsetd process; with supervise set it is restarted (without extra flags)
// whenever it exits, like a process supervisor would.
type sidecar struct {
	t       testing.TB
	bin     string
	dataDir string
	listen  string // 127.0.0.1:0 or unix:PATH
	addr    string
	logPath string

	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	supervise bool
	restarts  int
	stopped   bool
}

func startSidecar(t testing.TB, dir string, unix bool, extra ...string) *sidecar {
	t.Helper()
	s := &sidecar{t: t, bin: swingsetdBinary(t), dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "swingsetd.log"), listen: "127.0.0.1:0"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if unix {
		s.listen = "unix:" + filepath.Join(dir, "sock")
	}
	s.start(extra...)
	t.Cleanup(s.stop)
	return s
}

func (s *sidecar) start(extra ...string) {
	s.t.Helper()
	portFile := s.dataDir + ".port"
	os.Remove(portFile)
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"--listen", s.listen, "--data-dir", s.dataDir, "--port-file", portFile,
		"--log-level", "warn"}, extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		cmd.Wait()
		// Decided before exited is closed, so kill9 with supervise off never races a restart.
		s.mu.Lock()
		again := s.supervise && !s.stopped
		if again {
			s.restarts++
		}
		s.mu.Unlock()
		close(exited)
		if again {
			time.Sleep(200 * time.Millisecond)
			s.start()
		}
	}()
	for i := 0; i < 300; i++ {
		if b, err := ioutil.ReadFile(portFile); err == nil && strings.TrimSpace(string(b)) != "" {
			if strings.HasPrefix(s.listen, "unix:") {
				s.addr = s.listen
			} else {
				s.addr = "127.0.0.1:" + strings.TrimSpace(string(b))
			}
			return
		}
		select {
		case <-exited:
			s.t.Errorf("swingsetd exited at start:\n%s", s.log())
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.t.Errorf("swingsetd did not start in 30 s:\n%s", s.log())
}

func (s *sidecar) log() string {
	b, _ := ioutil.ReadFile(s.logPath)
	return string(b)
}

// kill9 kills the process (no restart unless supervised).
func (s *sidecar) kill9() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	cmd.Process.Kill()
	<-exited
}

func (s *sidecar) stop() {
	s.mu.Lock()
	s.stopped = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

func (s *sidecar) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// node is a keeper over a MemStore, driving one sidecar.
type node struct {
	t     testing.TB
	sc    *sidecar
	store *swingsettest.MemStore
	k     *swingset.Keeper
	g     *pb.Genesis
	logs  []string
	mu    sync.Mutex
}

func newNode(t testing.TB, sc *sidecar, g *pb.Genesis) *node {
	n := &node{t: t, sc: sc, store: swingsettest.NewMemStore(), g: g}
	n.open()
	return n
}

func (n *node) open() {
	n.t.Helper()
	if n.k != nil {
		n.k.Close()
	}
	k, err := swingset.NewKeeper(n.store, swingset.Config{Sidecar: n.sc.addr,
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Logf: func(f string, a ...interface{}) {
			n.mu.Lock()
			n.logs = append(n.logs, fmt.Sprintf(f, a...))
			n.mu.Unlock()
		}})
	if err != nil {
		n.t.Fatal(err)
	}
	n.k = k
	n.t.Cleanup(func() { k.Close() })
	c, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if _, err := k.InitChain(c, n.g); err != nil {
		n.t.Fatalf("InitChain: %v\n%s", err, n.sc.log())
	}
}

func longCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return c
}

// run drives one block (BeginBlock, the actions, EndBlock, Commit); commitStore false leaves
// the app's store uncommitted (the caller discards it to simulate a crash).
func (n *node) run(commitStore bool, actions ...*pb.Action) (*swingset.BlockResult, []uint64) {
	n.t.Helper()
	h, err := n.k.Height()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := n.k.BeginBlock(longCtx(n.t), h+1, time.Unix(1700000000+6*(h+1), 0)); err != nil {
		n.t.Fatalf("BeginBlock(%d): %v\n%s", h+1, err, n.sc.log())
	}
	var seqs []uint64
	for _, a := range actions {
		seq, err := n.k.DeliverTx(longCtx(n.t), a)
		if err != nil {
			n.t.Fatalf("DeliverTx: %v", err)
		}
		seqs = append(seqs, seq)
	}
	r, err := n.k.EndBlock(longCtx(n.t))
	if err != nil {
		n.t.Fatalf("EndBlock(%d): %v\n%s", h+1, err, n.sc.log())
	}
	if err := n.k.Commit(longCtx(n.t)); err != nil {
		n.t.Fatalf("Commit(%d): %v\n%s", h+1, err, n.sc.log())
	}
	if commitStore {
		n.store.Commit()
	}
	return r, seqs
}

// settle runs empty blocks until the promise of action seq settled (at most 10).
func (n *node) settle(seq uint64) *pb.PromiseResult {
	n.t.Helper()
	res, ok, err := n.k.Result(seq)
	if err != nil || !ok {
		n.t.Fatalf("Result(%d) = %v %v", seq, ok, err)
	}
	if res.Error != "" || res.ResultKpid == "" {
		n.t.Fatalf("action %d: %v", seq, res)
	}
	for i := 0; i < 10; i++ {
		if p, ok, err := n.k.Settled(res.ResultKpid); err != nil {
			n.t.Fatal(err)
		} else if ok {
			return p
		}
		n.run(true)
	}
	n.t.Fatalf("%s (action %d) did not settle in 10 blocks", res.ResultKpid, seq)
	return nil
}

func TestRealSidecarDemoBlocks(t *testing.T) {
	sc := startSidecar(t, t.TempDir(), false)
	n := newNode(t, sc, demoGenesis(t))
	r, seqs := n.run(true, call("counter", "increment", "[1]"),
		call("bootstrap", "send", `["alice","hello alice"]`))
	if len(r.Results) != 2 || len(r.StateHash) != 64 || len(r.ActivityHash) != 64 {
		t.Fatalf("block 1: %v", r.Response)
	}
	if p := n.settle(seqs[0]); p.State != "fulfilled" || p.ValueJson != "1" {
		t.Fatalf("increment settled %v", p)
	}
	if p := n.settle(seqs[1]); p.State != "fulfilled" || p.ValueJson != "1" {
		t.Fatalf("send settled %v", p)
	}
	m, ok, err := n.k.Mailbox("alice")
	if err != nil || !ok || len(m.Outbox) != 1 || !strings.Contains(m.Outbox[0].Body, "hello alice") {
		t.Fatalf("Mailbox(alice) = %v %v %v", m, ok, err)
	}
	_, seqs = n.run(true, call("counter", "increment", "[10]"), call("counter", "fail", `["boom"]`),
		call("nosuchvat", "x", "[]"), call("counter", "chain", "[3]"),
		call("bootstrap", "relay", `["counter","get",[]]`), inbound("alice", 1, 1))
	if p := n.settle(seqs[0]); p.ValueJson != "11" {
		t.Fatalf("increment settled %v", p)
	}
	if p := n.settle(seqs[1]); p.State != "rejected" || !strings.Contains(p.ValueJson, "boom") {
		t.Fatalf("fail settled %v", p)
	}
	if res, _, _ := n.k.Result(seqs[2]); res.Error == "" || res.ResultKpid != "" {
		t.Fatalf("call to an unknown vat: %v", res)
	}
	if p := n.settle(seqs[3]); p.ValueJson != "3" {
		t.Fatalf("chain settled %v", p)
	}
	if p := n.settle(seqs[4]); p.ValueJson != "11" {
		t.Fatalf("relay settled %v", p)
	}
	m, _, _ = n.k.Mailbox("alice")
	if m.Ack != 1 {
		t.Fatalf("alice's mailbox after inbound 1: %v", m)
	}
	last, err := n.k.LastBlock()
	h, _ := n.k.Height()
	if err != nil || last.Height != h {
		t.Fatalf("LastBlock %v %v", last, err)
	}
}

// The Go app crashes between the sidecar's Commit and its own: a new keeper over the old
// committed store re-drives the height and gets the same results and hashes, byte for byte,
// and the keeper's store comes out the same. Then the same with the sidecar killed too.
func TestRealSidecarAppCrashBetweenCommits(t *testing.T) {
	sc := startSidecar(t, t.TempDir(), false)
	n := newNode(t, sc, demoGenesis(t))
	n.run(true, call("counter", "increment", "[1]"))
	n.run(true)
	for round, killSidecar := range []bool{false, true} {
		h, _ := n.k.Height()
		actions := []*pb.Action{call("counter", "increment", "[5]"), call("counter", "makeThing", `["x"]`),
			call("bootstrap", "send", `["bob","hi"]`), inbound("alice", 0, 1, 2)}
		first, _ := n.run(false, actions...)
		want := n.store.Dump()
		n.store.Discard() // the crash: the app's store stays at h
		if killSidecar {
			sc.kill9()
			sc.start()
		}
		n.open()
		second, _ := n.run(false, actions...)
		if second.Height != h+1 || !second.Response.Replayed {
			t.Fatalf("round %d: height %d replayed %v", round, second.Height, second.Response.Replayed)
		}
		a := proto.Clone(first.Response).(*pb.EndBlockResponse)
		a.Replayed = true
		if !proto.Equal(a, second.Response) {
			t.Fatalf("round %d: the replay differs:\n%v\n%v", round, first.Response, second.Response)
		}
		if got := n.store.Dump(); !mapsEqual(got, want) {
			t.Fatalf("round %d: the keeper's store differs after the re-drive", round)
		}
		n.store.Commit()
		n.run(true) // and the chain goes on
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The sidecar is killed (SIGKILL) at every lifecycle point, and restarted by a supervisor: the
// keeper retries, re-initializes and re-drives, never skipping a height, and every height's
// hashes equal those of a sidecar that never crashed.
func TestRealSidecarKilledAndRestarted(t *testing.T) {
	dir := t.TempDir()
	ref := newNode(t, startSidecar(t, filepath.Join(dir, "ref"), true), demoGenesis(t))
	crashDir := filepath.Join(dir, "crash")
	os.MkdirAll(crashDir, 0o755)
	sc := startSidecar(t, crashDir, true)
	sc.mu.Lock()
	sc.supervise = true
	sc.mu.Unlock()
	n := newNode(t, sc, demoGenesis(t))
	ref.run(true)
	n.run(true)

	actionsFor := func(i int) []*pb.Action {
		return []*pb.Action{call("counter", "increment", fmt.Sprintf("[%d]", i)),
			call("counter", "store", fmt.Sprintf(`["k%d",%d]`, i, i)),
			call("bootstrap", "relay", `["counter","get",[]]`)}
	}
	check := func(what string, a, b *swingset.BlockResult) {
		t.Helper()
		x, y := proto.Clone(a.Response).(*pb.EndBlockResponse), proto.Clone(b.Response).(*pb.EndBlockResponse)
		x.StatsJson, y.StatsJson, x.Replayed, y.Replayed = "", "", false, false
		if !proto.Equal(x, y) {
			t.Fatalf("%s: height %d differs from the reference:\n%v\n%v", what, a.Height, x, y)
		}
	}
	// Killed from outside between the calls.
	for i, point := range []string{"before BeginBlock", "before EndBlock", "before Commit"} {
		h, _ := n.k.Height()
		c := longCtx(t)
		if point == "before BeginBlock" {
			sc.kill9()
		}
		if err := n.k.BeginBlock(c, h+1, time.Unix(1700000000+6*(h+1), 0)); err != nil {
			t.Fatalf("%s: %v", point, err)
		}
		for _, a := range actionsFor(i) {
			if _, err := n.k.DeliverTx(c, a); err != nil {
				t.Fatal(err)
			}
		}
		if point == "before EndBlock" {
			sc.kill9()
		}
		got, err := n.k.EndBlock(c)
		if err != nil {
			t.Fatalf("%s: EndBlock: %v\n%s", point, err, sc.log())
		}
		if point == "before Commit" {
			sc.kill9()
		}
		if err := n.k.Commit(c); err != nil {
			t.Fatalf("%s: Commit: %v\n%s", point, err, sc.log())
		}
		n.store.Commit()
		want, _ := ref.run(true, actionsFor(i)...)
		check(point, want, got)
	}
	// Killed by itself inside the lifecycle (--crash-at): mid-EndBlock, after EndBlock, and
	// after the commit batch was written but before Commit answered.
	for i, point := range []string{"end_block_mid", "end_block_done", "commit_before_write", "commit_after_write"} {
		h, _ := n.k.Height()
		// Restart it with the crash point armed for the next height.
		sc.mu.Lock()
		sc.supervise = false
		sc.mu.Unlock()
		sc.kill9()
		sc.mu.Lock()
		sc.supervise = true
		sc.mu.Unlock()
		sc.start("--crash-at", fmt.Sprintf("%s:%d", point, h+1))
		before := sc.restartCount()
		got, _ := n.run(true, actionsFor(10+i)...)
		if sc.restartCount() != before+1 {
			t.Fatalf("%s: the sidecar did not crash (restarts %d -> %d)\n%s", point, before, sc.restartCount(), sc.log())
		}
		want, _ := ref.run(true, actionsFor(10+i)...)
		check(point, want, got)
	}
	// The keeper's own state agrees with the reference node's.
	if !mapsEqual(n.store.Dump(), ref.store.Dump()) {
		t.Fatal("the keeper stores differ")
	}
}

// Hostile vat output: results near the bound (far beyond grpc-go's 4 MiB default), strings
// with lone surrogates, many mailboxes; every answer decodes and is stored.
func TestRealSidecarHostileOutput(t *testing.T) {
	g := demoGenesis(t)
	g.ChainId = "keeper-hostile"
	hostile := readVat(t, vatsDir("HOSTILE_VATS", "../../tests/go/hostile/vats"), "hostile.js")
	g.Vats = append(g.Vats, &pb.VatConfig{Name: "hostile", Source: hostile})
	g.Params = &pb.Params{MaxResultBytes: 6 << 20, MaxSettledBytesPerBlock: 16 << 20, MaxMailboxPeers: 64}
	sc := startSidecar(t, t.TempDir(), false)
	n := newNode(t, sc, g)
	n.run(true)
	var actions []*pb.Action
	actions = append(actions, call("hostile", "bigResult", "[3000000]"), call("hostile", "bigResult", "[3000000]"),
		call("hostile", "loneSurrogate", ""), call("hostile", "surrogates", ""),
		call("hostile", "echo", `["\ud800", {"\udbff": "é😀"}]`), call("hostile", "numbers", ""),
		call("hostile", "bigResult", "[7000000]"))
	for i := 0; i < 40; i++ {
		actions = append(actions, call("bootstrap", "send", fmt.Sprintf(`["peer%d","hello %d"]`, i, i)))
	}
	r, seqs := n.run(true, actions...)
	if len(r.Results) != len(actions) {
		t.Fatalf("consumed %d of %d", len(r.Results), len(actions))
	}
	if size := proto.Size(r.Response); size <= 4<<20 {
		t.Fatalf("the EndBlock response is only %d bytes", size)
	}
	for i := 0; i < 2; i++ {
		if p := n.settle(seqs[i]); len(p.ValueJson) != 3000002 || p.Error != "" {
			t.Fatalf("bigResult %d: %d bytes, error %q", i, len(p.ValueJson), p.Error)
		}
	}
	for _, i := range []int{2, 3, 4, 5} {
		if p := n.settle(seqs[i]); p.State != "fulfilled" || p.ValueJson == "" {
			t.Fatalf("action %d settled %v", i, p)
		}
	}
	if p := n.settle(seqs[6]); p.Error == "" || p.ValueJson != "" {
		t.Fatalf("a result above max_result_bytes: %v", p.Error)
	}
	for i := 0; i < 40; i++ {
		n.settle(seqs[7+i])
		if m, ok, _ := n.k.Mailbox(fmt.Sprintf("peer%d", i)); !ok || len(m.Outbox) != 1 {
			t.Fatalf("peer%d's mailbox: %v", i, m)
		}
	}
}

// Refusals of the real sidecar halt with the height named.
func TestRealSidecarHalts(t *testing.T) {
	sc := startSidecar(t, t.TempDir(), false)
	n := newNode(t, sc, demoGenesis(t))
	n.run(true)
	// Another genesis on this store: FAILED_PRECONDITION at Init.
	other := demoGenesis(t)
	other.ChainId = "another-chain"
	k, err := swingset.NewKeeper(swingsettest.NewMemStore(), swingset.Config{Sidecar: sc.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	_, err = k.InitChain(longCtx(t), other)
	if h, ok := swingset.IsHalt(err); !ok || h.Height != 0 || !strings.Contains(h.Error(), "FailedPrecondition") {
		t.Fatalf("another genesis: %v", err)
	}
	// An app store behind the sidecar by two blocks.
	n.run(false)
	n.store.Discard()
	n.open()
	n.run(false) // replay of 2
	n.store = swingsettest.NewMemStore()
	n.open()
	err = n.k.BeginBlock(longCtx(t), 1, time.Unix(1700000006, 0))
	if h, ok := swingset.IsHalt(err); !ok || h.Height != 1 || !strings.Contains(h.Error(), "saved height is 2") {
		t.Fatalf("app behind: %v", err)
	}
}

// Every action the keeper accepts, the sidecar accepts too: odd but valid forms go through one
// block without INVALID_ARGUMENT (which would halt the chain).
func TestRealSidecarAcceptsWhatDeliverTxAccepts(t *testing.T) {
	sc := startSidecar(t, t.TempDir(), false)
	n := newNode(t, sc, demoGenesis(t))
	n.run(true)
	args := []string{"", "[]", " \t[ ]\r\n", "[1e400]", "[-1e-400]", "[-0]", "[0.0000001]", "[1E5]",
		"[123456789012345678901234567890]", "[1.7976931348623157e308]", `["\u0000"]`,
		`["\ud800\udc00"]`, `["\udc00\ud800"]`, `["\ud800"]`, `[true,false,null]`,
		`[{"a":1,"a":2}]`, `[{"!x":1,"x":2}]`, `[{"#x":1}]`, `["#foo"]`, `["!bang"]`, `["@slot"]`,
		`[{"@slot":"ko1"}]`, `[{"__proto__":1}]`, `["é😀"]`, `["\\\/\b\f\n\r\t"]`,
		"[" + strings.Repeat("[", 511) + strings.Repeat("]", 511) + "]",
		`["` + strings.Repeat("z", MaxArgsForTest) + `"]`}
	methods := []string{"echo", "é", "a b", "~x", ".", "/", "0", "constructor", "__proto__", "then",
		"toString", strings.Repeat("m", 256)}
	var actions []*pb.Action
	for _, a := range args {
		actions = append(actions, call("counter", "echo", a))
	}
	for _, m := range methods {
		actions = append(actions, call("counter", m, "[]"))
	}
	actions = append(actions, inbound("a.b_c:d@e/f+g-h", 0, 1), inbound(strings.Repeat("p", 128), 1<<53-1),
		inbound("alice", 0, 1<<53-1, 1))
	for i, a := range actions {
		if err := swingset.ValidateAction(a); err != nil {
			t.Fatalf("action %d refused by the keeper: %v", i, err)
		}
	}
	r, _ := n.run(true, actions...)
	if len(r.Results) != len(actions) {
		t.Fatalf("consumed %d of %d", len(r.Results), len(actions))
	}
}

// MaxArgsForTest: a string argument that brings args_json to its limit exactly.
const MaxArgsForTest = swingset.MaxArgsJSONBytes - 4
