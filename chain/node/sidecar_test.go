package node

// Nodes with the real sidecar: SWINGSETD names the swingsetd binary and DEMO_VATS the demo vats
// (the CTest entry go_node_test sets both). Without SWINGSETD the test is skipped, unless
// SWINGSET_REQUIRE_SIDECAR is set.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/genesis"
	"swingsetd.dev/chain/swingset"
	chainpb "swingsetd.dev/gen/swingchainv1"
)

// realSidecar is one swingsetd process on a unix socket; restart keeps its data dir.
type realSidecar struct {
	t    *testing.T
	bin  string
	dir  string
	sock string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startRealSidecar(t *testing.T, bin, dir string) *realSidecar {
	s := &realSidecar{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "sock")}
	s.start()
	t.Cleanup(func() { s.kill(syscall.SIGTERM) })
	return s
}

func (s *realSidecar) start() {
	s.t.Helper()
	os.Remove(s.sock)
	logf, err := os.OpenFile(filepath.Join(s.dir, "swingsetd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--listen", "unix:"+s.sock, "--data-dir", filepath.Join(s.dir, "data"), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	waitFor(s.t, "swingsetd socket "+s.sock, 30*time.Second, func() bool {
		_, err := os.Stat(s.sock)
		return err == nil
	})
}

func (s *realSidecar) kill(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(sig)
		cmd.Wait()
	}
}

func demoVatsDir(t *testing.T) string {
	if d := os.Getenv("DEMO_VATS"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	here, err := filepath.EvalSymlinks(wd)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(here, "../../deploy/demo_vats")
}

func TestRealSidecars(t *testing.T) {
	bin := os.Getenv("SWINGSETD")
	if bin == "" {
		if os.Getenv("SWINGSET_REQUIRE_SIDECAR") != "" {
			t.Fatal("SWINGSETD is not set")
		}
		t.Skip("SWINGSETD is not set (the path of the swingsetd binary)")
	}
	gdir := t.TempDir()
	tn := newTestNetG(t, 3, func(vals []genesis.Validator) *genesis.Genesis {
		doc, err := genesis.Demo("swingchain-test", demoVatsDir(t), gdir, vals)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(gdir, "genesis.json")
		if err := ioutil.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := genesis.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return g
	})
	sidecars := make([]*realSidecar, 3)
	for i, tnode := range tn.nodes {
		tnode := tnode
		sc := startRealSidecar(t, bin, t.TempDir())
		sidecars[i] = sc
		tnode.mk = func(store *blockstore.Store) (App, Queries, func()) {
			kcfg := swingset.Config{Sidecar: "unix:" + sc.sock, RetryInitial: 20 * time.Millisecond,
				RetryMax: 200 * time.Millisecond, Logf: func(f string, a ...interface{}) { t.Logf(tnode.id+": "+f, a...) }}
			k, err := swingset.NewKeeper(store.Pending(), kcfg)
			if err != nil {
				t.Fatal(err)
			}
			q, err := swingset.NewKeeper(store.Committed(), kcfg)
			if err != nil {
				t.Fatal(err)
			}
			return k, q, func() { k.Close(); q.Close() }
		}
		tnode.cfg = func(c *Config) { c.BlockInterval = 100 * time.Millisecond }
		tn.start(i)
	}

	type sent struct {
		id, method, args string
	}
	var txs []sent
	send := func(i int, method, args string) {
		id := submit(t, tn.nodes[i%3], callVat("counter", method, args, uint64(len(txs))))
		txs = append(txs, sent{id, method, args})
	}
	waitFor(t, "the first blocks everywhere", 60*time.Second, func() bool {
		return tn.nodes[1].n.Height() >= 2 && tn.nodes[2].n.Height() >= 2
	})
	total := 0
	for i := 0; i < 36; i++ {
		switch i % 4 {
		case 0, 1:
			send(i, "increment", fmt.Sprintf("[%d]", i))
			total += i
		case 2:
			send(i, "echo", fmt.Sprintf(`["x%d",{"n":%d}]`, i, i))
		case 3:
			send(i, "fail", fmt.Sprintf(`["boom %d"]`, i))
		}
		if i == 17 {
			// A follower's sidecar dies (after committing some of these) and comes back: its
			// keeper retries and re-drives the block in progress.
			h := tn.nodes[1].n.Height()
			waitFor(t, "val1 executing the txs", 60*time.Second, func() bool { return tn.nodes[1].n.Height() > h })
			sidecars[1].kill(syscall.SIGKILL)
			time.Sleep(300 * time.Millisecond)
			sidecars[1].start()
		}
	}
	// A follower stops, the chain goes on (a tx is executed without it), it restarts and
	// catches up.
	waitFor(t, "val2 executing the txs", 60*time.Second, func() bool { return tn.nodes[2].n.Height() >= tn.nodes[0].n.Height() })
	if err := tn.stop(tn.nodes[2]); err != nil {
		t.Fatal(err)
	}
	send(0, "increment", "[1000]")
	total += 1000
	last := txs[len(txs)-1].id
	waitFor(t, "the chain going on without val2", 60*time.Second, func() bool {
		r, err := tn.nodes[0].client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: last})
		return err == nil && r.Settled != nil
	})
	tn.start(2)
	getID := submit(t, tn.nodes[2], callVat("counter", "get", "", 99999))

	for _, tnode := range tn.nodes {
		for _, s := range txs {
			var r *chainpb.GetTxResponse
			waitFor(t, tnode.id+" settles "+s.method+s.args, 60*time.Second, func() bool {
				var err error
				r, err = tnode.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: s.id})
				return err == nil && r.Settled != nil
			})
			switch s.method {
			case "fail":
				if r.Settled.State != "rejected" {
					t.Errorf("%s: %s%s settled %v", tnode.id, s.method, s.args, r.Settled)
				}
			case "echo":
				var got, want interface{}
				json.Unmarshal([]byte(r.Settled.ValueJson), &got)
				json.Unmarshal([]byte(s.args), &want)
				if r.Settled.State != "fulfilled" || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: echo%s settled %v", tnode.id, s.args, r.Settled)
				}
			default:
				if r.Settled.State != "fulfilled" {
					t.Errorf("%s: %s%s settled %v", tnode.id, s.method, s.args, r.Settled)
				}
			}
		}
		var r *chainpb.GetTxResponse
		waitFor(t, tnode.id+" get", 60*time.Second, func() bool {
			var err error
			r, err = tnode.client.GetTx(context.Background(), &chainpb.GetTxRequest{TxId: getID})
			return err == nil && r.Settled != nil
		})
		if r.Settled.ValueJson != fmt.Sprint(total) {
			t.Errorf("%s: counter is %s, want %d", tnode.id, r.Settled.ValueJson, total)
		}
	}
	top := tn.nodes[0].n.Height()
	waitFor(t, "all nodes at the proposer's height", 60*time.Second, func() bool {
		return tn.nodes[1].n.Height() >= top && tn.nodes[2].n.Height() >= top
	})
	want := appHashes(t, tn.nodes[0], top)
	for _, tnode := range tn.nodes[1:] {
		got := appHashes(t, tnode, top)
		for h := range want {
			if string(got[h]) != string(want[h]) {
				t.Fatalf("%s: app hash at height %d differs from the proposer's", tnode.id, h+1)
			}
		}
	}
	for _, tnode := range tn.nodes {
		if h := tnode.n.Halted(); h != nil {
			t.Fatalf("%s halted: %v", tnode.id, h)
		}
	}
	t.Logf("%d txs over %d blocks; every node agrees at every height", len(txs)+1, top)
}
