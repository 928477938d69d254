package main

// The swingchain command end to end: two `swingchain start` processes over two real sidecars
// (SWINGSETD, DEMO_VATS; skipped without SWINGSETD unless SWINGSET_REQUIRE_SIDECAR is set),
// driven through the CLI. The test binary runs as the swingchain command when
// SWINGCHAIN_AS_MAIN is set.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) {
	if os.Getenv("SWINGCHAIN_AS_MAIN") != "" {
		os.Args = append([]string{"swingchain"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run runs the command and returns stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SWINGCHAIN_AS_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func startProc(t *testing.T, logPath string, bin string, args []string, env ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !f() {
		if time.Now().After(end) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// demoVats is the demo vats' directory: DEMO_VATS, else the repo's deploy/demo_vats.
func demoVats() string {
	if vats := os.Getenv("DEMO_VATS"); vats != "" {
		return vats
	}
	wd, _ := os.Getwd()
	here, _ := filepath.EvalSymlinks(wd)
	return filepath.Join(here, "../../../deploy/demo_vats")
}

// initGenesisFile writes a demo genesis for validators ("ID=ADDR,...") under dir through the
// init-genesis command and returns its path.
func initGenesisFile(t *testing.T, dir, vats, validators string) string {
	t.Helper()
	gpath := filepath.Join(dir, "g", "genesis.json")
	os.MkdirAll(filepath.Dir(gpath), 0o755)
	if _, errOut, code := run(t, "init-genesis", "--vats", vats, "--out", gpath, "--validators", validators); code != 0 {
		t.Fatalf("init-genesis: %d %s", code, errOut)
	}
	return gpath
}

func TestCLI(t *testing.T) {
	// Usage errors exit 2, before anything else.
	if _, errOut, code := run(t, "tx", "call-vat", "counter"); code != 2 || !strings.Contains(errOut, "tx call-vat VAT METHOD ARGS_JSON") {
		t.Fatalf("short call-vat: %d %s", code, errOut)
	}
	if _, _, code := run(t, "start", "--id", "val0"); code != 2 {
		t.Fatalf("start without --home: %d", code)
	}
	bin := sidecarBinary(t)
	vats := demoVats()
	dir := t.TempDir()
	addrs := []string{freePort(t), freePort(t)}
	gpath := initGenesisFile(t, dir, vats, "val0="+addrs[0]+",val1="+addrs[1])
	// A non-loopback --listen is refused.
	if _, errOut, code := run(t, "start", "--home", filepath.Join(dir, "x"), "--id", "val0", "--genesis", gpath,
		"--listen", "10.1.2.3:5"); code != 2 || !strings.Contains(errOut, "loopback") {
		t.Fatalf("non-loopback listen: %d %s", code, errOut)
	}
	nodes := make([]*exec.Cmd, 2)
	startNode := func(i int) {
		sock := filepath.Join(dir, fmt.Sprintf("sc%d.sock", i))
		nodes[i] = startProc(t, filepath.Join(dir, fmt.Sprintf("n%d.log", i)), os.Args[0],
			[]string{"start", "--home", filepath.Join(dir, fmt.Sprintf("n%d", i)), "--id", fmt.Sprintf("val%d", i),
				"--listen", addrs[i], "--sidecar", "unix:" + sock, "--genesis", gpath, "--block-interval", "200ms"},
			"SWINGCHAIN_AS_MAIN=1")
	}
	for i := 0; i < 2; i++ {
		sock := filepath.Join(dir, fmt.Sprintf("sc%d.sock", i))
		startProc(t, filepath.Join(dir, fmt.Sprintf("sc%d.log", i)), bin,
			[]string{"--listen", "unix:" + sock, "--data-dir", filepath.Join(dir, fmt.Sprintf("sc%d", i)), "--log-level", "warn"})
		startNode(i)
	}
	status := func(i int) map[string]interface{} {
		out, _, code := run(t, "query", "status", "--node", addrs[i])
		if code != 0 {
			return nil
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("status is not JSON: %v\n%s", err, out)
		}
		return m
	}
	height := func(i int) int {
		var h int
		if m := status(i); m != nil {
			fmt.Sscan(fmt.Sprint(m["height"]), &h)
		}
		return h
	}
	eventually(t, "both nodes running", 60*time.Second, func() bool { return height(0) >= 2 && height(1) >= 2 })

	// A call through the follower, waited for: committed, result promise settled with 7.
	out, errOut, code := run(t, "tx", "call-vat", "counter", "increment", "[7]", "--node", addrs[1], "--wait", "30s")
	if code != 0 {
		t.Fatalf("tx call-vat: %d %s", code, errOut)
	}
	var tx struct {
		TxID    string `json:"tx_id"`
		Status  string `json:"status"`
		Height  string `json:"height"`
		Settled struct {
			State     string `json:"state"`
			ValueJSON string `json:"value_json"`
		} `json:"settled"`
	}
	if err := json.Unmarshal([]byte(out), &tx); err != nil || tx.Status != "committed" ||
		tx.Settled.State != "fulfilled" || tx.Settled.ValueJSON != "7" || len(tx.TxID) != 64 {
		t.Fatalf("tx output: %v\n%s", err, out)
	}
	// The same tx on the other node, and in its block.
	out, _, code = run(t, "query", "tx", tx.TxID, "--node", addrs[0])
	if code != 0 || !strings.Contains(out, `"value_json": "7"`) {
		t.Fatalf("query tx on val0: %d %s", code, out)
	}
	out, _, code = run(t, "query", "block", tx.Height, "--node", addrs[1])
	if code != 0 || !strings.Contains(out, tx.TxID) || !strings.Contains(out, `"method": "increment"`) {
		t.Fatalf("query block: %d %s", code, out)
	}
	// Mail from alice is echoed by vattp: the mailbox shows it.
	if _, errOut, code := run(t, "tx", "deliver-inbound", "alice", `[[1,"hello"]]`, "0", "--node", addrs[0], "--wait", "30s"); code != 0 {
		t.Fatalf("deliver-inbound: %d %s", code, errOut)
	}
	eventually(t, "val1's mailbox for alice", 30*time.Second, func() bool {
		out, _, code = run(t, "query", "mailbox", "alice", "--node", addrs[1])
		return code == 0 && strings.Contains(out, "echo:hello")
	})
	// Bad input: INVALID_ARGUMENT naming the field, exit status 1.
	if _, errOut, code := run(t, "tx", "call-vat", "counter", "increment", "[1", "--node", addrs[1]); code != 1 ||
		!strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "tx.call_vat.args_json") {
		t.Fatalf("bad args: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "query", "tx", "nothex", "--node", addrs[0]); code != 1 || !strings.Contains(errOut, "tx_id") {
		t.Fatalf("bad tx id: %d %s", code, errOut)
	}

	// SIGKILL the follower, let the chain go on, restart it: it catches up with the same hashes.
	nodes[1].Process.Signal(syscall.SIGKILL)
	nodes[1].Wait()
	run(t, "tx", "call-vat", "counter", "increment", "[1]", "--node", addrs[0], "--wait", "30s")
	startNode(1)
	top := height(0)
	eventually(t, "val1 caught up", 60*time.Second, func() bool { return height(1) >= top })
	b0, _, _ := run(t, "query", "block", fmt.Sprint(top), "--node", addrs[0])
	b1, _, _ := run(t, "query", "block", fmt.Sprint(top), "--node", addrs[1])
	if b0 == "" || b0 != b1 {
		t.Fatalf("block %d differs:\n%s\n%s", top, b0, b1)
	}
	if m := status(1); m["halted"] == true {
		t.Fatalf("val1 halted: %v", m)
	}
	// SIGTERM: a clean stop, exit status 0.
	nodes[0].Process.Signal(syscall.SIGTERM)
	if err := nodes[0].Wait(); err != nil {
		t.Fatalf("val0 after SIGTERM: %v", err)
	}
}

// sidecarBinary is $SWINGSETD; without it the test is skipped, or fails when
// SWINGSET_REQUIRE_SIDECAR is set (as the CTest registration does).
func sidecarBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SWINGSETD")
	if bin == "" {
		if os.Getenv("SWINGSET_REQUIRE_SIDECAR") != "" {
			t.Fatal("SWINGSETD is not set")
		}
		t.Skip("SWINGSETD is not set")
	}
	return bin
}

// The chain service's health is NOT_SERVING while the node waits for its sidecar, SERVING once
// the sidecar is initialized.
func TestHealthWaitsForTheSidecar(t *testing.T) {
	bin := sidecarBinary(t)
	vats := demoVats()
	dir := t.TempDir()
	addr := freePort(t)
	gpath := initGenesisFile(t, dir, vats, "val0="+addr)
	sock := filepath.Join(dir, "sc.sock")
	startProc(t, filepath.Join(dir, "n.log"), os.Args[0],
		[]string{"start", "--home", filepath.Join(dir, "n"), "--id", "val0", "--listen", addr,
			"--sidecar", "unix:" + sock, "--genesis", gpath, "--block-interval", "200ms"},
		"SWINGCHAIN_AS_MAIN=1")
	conn, err := grpc.Dial(addr, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return r.Status
	}
	eventually(t, "the process answering health", 30*time.Second, func() bool {
		return check("") == healthpb.HealthCheckResponse_SERVING
	})
	for i := 0; i < 10; i++ {
		if s := check("swingchain.v1.Chain"); s != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("chain service %v with no sidecar", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	startProc(t, filepath.Join(dir, "sc.log"), bin,
		[]string{"--listen", "unix:" + sock, "--data-dir", filepath.Join(dir, "sc"), "--log-level", "warn"})
	eventually(t, "the chain service SERVING once the sidecar is up", 60*time.Second, func() bool {
		return check("swingchain.v1.Chain") == healthpb.HealthCheckResponse_SERVING
	})
}
