// Command swingchain is a validator node embedding the swingset keeper, with a one-proposer
// sequencer standing in for CometBFT (ordering, not BFT consensus), and its client.
//
//	swingchain start --home DIR --id NAME --listen 127.0.0.1:PORT --sidecar ADDR --genesis FILE
//	                 [--block-interval 1s] [--halt-on-mismatch=true] [--clear-halt] [--log-level info|warn]
//	swingchain init-genesis --vats DIR --validators val0=127.0.0.1:26700,... [--chain-id ID] [--out FILE]
//	swingchain tx call-vat VAT METHOD ARGS_JSON [--node ADDR] [--nonce N] [--wait DURATION]
//	swingchain tx deliver-inbound PEER MESSAGES_JSON ACK [--node ADDR] [--nonce N] [--wait DURATION]
//	swingchain query tx ID | block [H] | status | mailbox PEER [--node ADDR]
//
// Client commands print JSON on stdout; errors go to stderr with exit status 1 (2 for a bad
// command line).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/genesis"
	"swingsetd.dev/chain/node"
	"swingsetd.dev/chain/swingset"
	chainpb "swingsetd.dev/gen/swingchainv1"
	pb "swingsetd.dev/gen/swingsetdv1"
)

const defaultNode = "127.0.0.1:26700"

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  swingchain start --home DIR --id NAME --listen 127.0.0.1:PORT --sidecar ADDR --genesis FILE
                   [--block-interval 1s] [--halt-on-mismatch=true] [--clear-halt] [--log-level info|warn]
  swingchain init-genesis --vats DIR --validators val0=127.0.0.1:26700,val1=... [--chain-id ID] [--out FILE]
  swingchain tx call-vat VAT METHOD ARGS_JSON [--node ADDR] [--nonce N] [--wait DURATION]
  swingchain tx deliver-inbound PEER MESSAGES_JSON ACK [--node ADDR] [--nonce N] [--wait DURATION]
  swingchain query tx ID | block [HEIGHT] | status | mailbox PEER [--node ADDR]
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "start":
		os.Exit(start(os.Args[2:]))
	case "init-genesis":
		err = initGenesis(os.Args[2:])
	case "tx":
		err = txCmd(os.Args[2:])
	case "query", "q":
		err = queryCmd(os.Args[2:])
	case "help", "-h", "--help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(os.Stderr, "swingchain: %v\n", err)
			usage()
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "swingchain: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// parseInterleaved parses flags that may come before, between or after the positional args.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// ---- start

func start(args []string) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	home := fs.String("home", "", "node home directory (its LevelDB store is HOME/data)")
	id := fs.String("id", "", "this node's validator id (in the genesis)")
	listen := fs.String("listen", "", "tx and peer service address, 127.0.0.1:PORT (default: this node's genesis addr)")
	sidecar := fs.String("sidecar", "127.0.0.1:26660", "this node's swingsetd (HOST:PORT on loopback, or unix:PATH)")
	genesisPath := fs.String("genesis", "", "genesis file")
	interval := fs.Duration("block-interval", time.Second, "proposer: time between blocks (empty blocks included)")
	haltOnMismatch := fs.Bool("halt-on-mismatch", true, "halt the chain when a node's app hash differs from the proposer's")
	clearHalt := fs.Bool("clear-halt", false, "remove a recorded halt before starting (an operator's decision)")
	maxBlockTxs := fs.Int("max-block-txs", node.DefaultBlockTxs, "proposer: txs per block")
	logLevel := fs.String("log-level", "info", "info (a line per block) or warn")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("start: unexpected argument %q", pos[0])
	}
	if err == nil {
		switch {
		case *home == "":
			err = usagef("start: --home is required")
		case *id == "":
			err = usagef("start: --id is required")
		case *genesisPath == "":
			err = usagef("start: --genesis is required")
		case *logLevel != "info" && *logLevel != "warn":
			err = usagef("start: --log-level %q: info or warn", *logLevel)
		case *interval <= 0:
			err = usagef("start: --block-interval %s: must be positive", *interval)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "swingchain: %v\n", err)
		return 2
	}
	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds|log.LUTC)
	logf := func(format string, args ...interface{}) {
		msg := fmt.Sprintf(format, args...)
		if *logLevel == "warn" && (strings.HasPrefix(msg, "block ") || strings.HasPrefix(msg, "swingset: ")) {
			return
		}
		logger.Printf("%s: %s", *id, msg)
	}
	fatal := func(format string, args ...interface{}) int {
		logger.Printf("%s: swingchain: fatal: %s", *id, fmt.Sprintf(format, args...))
		return 1
	}

	g, err := genesis.Load(*genesisPath)
	if err != nil {
		return fatal("%v", err)
	}
	self, ok := g.Validator(*id)
	if !ok {
		return fatal("--id %q is not a validator of %s", *id, *genesisPath)
	}
	if *listen == "" {
		*listen = self.Addr
	}
	if err := genesis.CheckLoopback(*listen); err != nil {
		fmt.Fprintf(os.Stderr, "swingchain: --listen: %v\n", err)
		return 2
	}
	if *listen != self.Addr {
		logf("WARNING: --listen %s differs from this node's genesis addr %s (where the other nodes look for it)", *listen, self.Addr)
	}
	if err := os.MkdirAll(filepath.Join(*home, "data"), 0o755); err != nil {
		return fatal("%v", err)
	}
	store, err := blockstore.Open(filepath.Join(*home, "data"))
	if err != nil {
		return fatal("%v", err)
	}
	defer store.Close()
	if *clearHalt {
		if h, _ := store.Halt(); h != nil {
			logf("--clear-halt: removing the halt at height %d (%s)", h.Height, h.Reason)
		}
		if err := store.ClearHalt(); err != nil {
			return fatal("%v", err)
		}
	}
	kcfg := swingset.Config{Sidecar: *sidecar, Logf: logf}
	keeper, err := swingset.NewKeeper(store.Pending(), kcfg)
	if err != nil {
		return fatal("%v", err)
	}
	defer keeper.Close()
	// Queries read the committed state only (never the block in progress). This keeper never
	// calls the sidecar.
	queries, err := swingset.NewKeeper(store.Committed(), kcfg)
	if err != nil {
		return fatal("%v", err)
	}
	defer queries.Close()
	// Health: the process answers from the start (""), the chain service only once its sidecar is
	// initialized (NOT_SERVING while the keeper waits for it, and again after a halt).
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("swingchain.v1.Chain", healthpb.HealthCheckResponse_NOT_SERVING)
	onReady := func() { hs.SetServingStatus("swingchain.v1.Chain", healthpb.HealthCheckResponse_SERVING) }
	n, err := node.New(node.Config{ID: *id, Genesis: g, Store: store, App: keeper, Queries: queries,
		BlockInterval: *interval, HaltOnMismatch: *haltOnMismatch, MaxBlockTxs: *maxBlockTxs, Logf: logf,
		OnReady: onReady})
	if err != nil {
		return fatal("%v", err)
	}
	defer n.Close()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fatal("listen %s: %v", *listen, err)
	}
	srv := grpc.NewServer(node.ServerOptions()...)
	n.Register(srv)
	healthpb.RegisterHealthServer(srv, hs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	logf("serving the tx and peer services on %s (sidecar %s, genesis %s)", lis.Addr(), *sidecar, *genesisPath)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()

	stop := func() {
		hs.Shutdown()
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			srv.Stop()
		}
	}
	for {
		select {
		case s := <-sigs:
			logf("%s: stopping", s)
			cancel()
			<-ran
			stop()
			return 0
		case err := <-served:
			cancel()
			<-ran
			return fatal("serving: %v", err)
		case err := <-ran:
			if errors.Is(err, node.ErrHalted) {
				h := n.Halted()
				logf("HALTED at height %d: %s; still answering Status (stop with SIGTERM)", h.Height, h.Reason)
				hs.SetServingStatus("swingchain.v1.Chain", healthpb.HealthCheckResponse_NOT_SERVING)
				ran = nil // stay up, halted
				continue
			}
			if err != nil {
				stop()
				return fatal("%v", err)
			}
			stop()
			return 0
		}
	}
}

// ---- init-genesis

func initGenesis(args []string) error {
	fs := flag.NewFlagSet("init-genesis", flag.ContinueOnError)
	vats := fs.String("vats", "deploy/demo_vats", "directory of the demo vats (bootstrap.js, vattp.js, counter.js)")
	vals := fs.String("validators", "", "ID=HOST:PORT,... (the first is the proposer)")
	chainID := fs.String("chain-id", "swingchain-demo", "chain id")
	out := fs.String("out", "", "write the genesis here (source paths relative to it); default stdout, paths relative to the current directory")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("init-genesis: unexpected argument %q", pos[0])
	}
	if *vals == "" {
		return usagef("init-genesis: --validators is required")
	}
	vs, err := genesis.ParseValidators(*vals)
	if err != nil {
		return err
	}
	relTo := "."
	if *out != "" {
		relTo = filepath.Dir(*out)
	}
	doc, err := genesis.Demo(*chainID, *vats, relTo, vs)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(doc)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return ioutil.WriteFile(*out, doc, 0o644)
}

// ---- client commands

func dialNode(addr string) (chainpb.ChainClient, func(), error) {
	conn, err := node.Dial(addr)
	if err != nil {
		return nil, nil, err
	}
	return chainpb.NewChainClient(conn), func() { conn.Close() }, nil
}

func rpcErr(addr string, err error) error {
	st := status.Convert(err)
	return fmt.Errorf("%s: %s: %s", addr, st.Code(), st.Message())
}

var jsonOut = protojson.MarshalOptions{UseProtoNames: true}

// printProto prints m as indented JSON (protojson's own layout varies on purpose, so it is
// re-indented: the output is stable for scripts).
func printProto(m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	fmt.Println(out.String())
	return nil
}

func txCmd(args []string) error {
	fs := flag.NewFlagSet("tx", flag.ContinueOnError)
	addr := fs.String("node", defaultNode, "a swingchain node's --listen address")
	nonceFlag := fs.String("nonce", "", "the tx's nonce (default: random), so the same action can be sent twice")
	wait := fs.Duration("wait", 0, "wait up to this long for the tx to commit and its result promise to settle, then print it")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("tx: call-vat or deliver-inbound")
	}
	tx := &chainpb.Tx{}
	switch pos[0] {
	case "call-vat":
		if len(pos) != 4 {
			return usagef("tx call-vat VAT METHOD ARGS_JSON")
		}
		tx.Action = &chainpb.Tx_CallVat{CallVat: &pb.CallVat{Vat: pos[1], Method: pos[2], ArgsJson: pos[3]}}
	case "deliver-inbound":
		if len(pos) != 4 {
			return usagef("tx deliver-inbound PEER MESSAGES_JSON ACK")
		}
		msgs, err := parseMessages(pos[2])
		if err != nil {
			return usagef("tx deliver-inbound: MESSAGES_JSON: %v", err)
		}
		ack, err := strconv.ParseUint(pos[3], 10, 64)
		if err != nil {
			return usagef("tx deliver-inbound: ACK %q is not a number", pos[3])
		}
		tx.Action = &chainpb.Tx_DeliverInbound{DeliverInbound: &pb.DeliverInbound{Peer: pos[1], Messages: msgs, Ack: ack}}
	default:
		return usagef("tx: unknown kind %q (call-vat or deliver-inbound)", pos[0])
	}
	if *nonceFlag != "" {
		tx.Nonce, err = strconv.ParseUint(*nonceFlag, 10, 64)
		if err != nil {
			return usagef("--nonce %q is not a number", *nonceFlag)
		}
	} else {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		tx.Nonce = binary.BigEndian.Uint64(b[:])
	}
	c, closeConn, err := dialNode(*addr)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+*wait)
	defer cancel()
	resp, err := c.Submit(ctx, &chainpb.SubmitRequest{Tx: tx})
	if err != nil {
		return rpcErr(*addr, err)
	}
	if *wait <= 0 {
		return printProto(resp)
	}
	deadline := time.Now().Add(*wait)
	for {
		r, err := c.GetTx(ctx, &chainpb.GetTxRequest{TxId: resp.TxId})
		done := err == nil && r.Status == "committed" &&
			(r.Error != "" || (r.Result != nil && (r.Result.ResultKpid == "" || r.Settled != nil)))
		if done || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("tx %s submitted; %v", resp.TxId, rpcErr(*addr, err))
			}
			if !done {
				printProto(r)
				return fmt.Errorf("tx %s: not settled within %s", resp.TxId, *wait)
			}
			return printProto(r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parseMessages reads [[num, "body"], ...] or [{"num": n, "body": "..."}, ...].
func parseMessages(s string) ([]*pb.MailboxMessage, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("not a JSON array: %v", err)
	}
	var out []*pb.MailboxMessage
	for i, r := range raw {
		var pair []json.RawMessage
		m := &pb.MailboxMessage{}
		if json.Unmarshal(r, &pair) == nil {
			if len(pair) != 2 || json.Unmarshal(pair[0], &m.Num) != nil || json.Unmarshal(pair[1], &m.Body) != nil {
				return nil, fmt.Errorf("[%d]: want [num, \"body\"]", i)
			}
		} else {
			var obj struct {
				Num  *uint64 `json:"num"`
				Body *string `json:"body"`
			}
			if err := json.Unmarshal(r, &obj); err != nil || obj.Num == nil || obj.Body == nil {
				return nil, fmt.Errorf("[%d]: want [num, \"body\"] or {\"num\":..,\"body\":..}", i)
			}
			m.Num, m.Body = *obj.Num, *obj.Body
		}
		out = append(out, m)
	}
	return out, nil
}

func queryCmd(args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	addr := fs.String("node", defaultNode, "a swingchain node's --listen address")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("query: tx ID | block [HEIGHT] | status | mailbox PEER")
	}
	c, closeConn, err := dialNode(*addr)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch pos[0] {
	case "tx":
		if len(pos) != 2 {
			return usagef("query tx ID")
		}
		r, err := c.GetTx(ctx, &chainpb.GetTxRequest{TxId: pos[1]})
		if err != nil {
			return rpcErr(*addr, err)
		}
		return printProto(r)
	case "block":
		var h int64
		if len(pos) > 2 {
			return usagef("query block [HEIGHT]")
		}
		if len(pos) == 2 {
			h, err = strconv.ParseInt(pos[1], 10, 64)
			if err != nil || h < 0 {
				return usagef("query block: HEIGHT %q is not a height", pos[1])
			}
		}
		r, err := c.GetBlock(ctx, &chainpb.GetBlockRequest{Height: h})
		if err != nil {
			return rpcErr(*addr, err)
		}
		return printBlock(r.Block)
	case "status":
		if len(pos) != 1 {
			return usagef("query status")
		}
		r, err := c.Status(ctx, &chainpb.StatusRequest{})
		if err != nil {
			return rpcErr(*addr, err)
		}
		return printProto(r)
	case "mailbox":
		if len(pos) != 2 {
			return usagef("query mailbox PEER")
		}
		r, err := c.GetMailbox(ctx, &chainpb.GetMailboxRequest{Peer: pos[1]})
		if err != nil {
			return rpcErr(*addr, err)
		}
		return printProto(r.Mailbox)
	}
	return usagef("query: unknown %q (tx, block, status, mailbox)", pos[0])
}

// printBlock: hashes in hex and each tx decoded, with its id.
func printBlock(cb *chainpb.CommittedBlock) error {
	type txOut struct {
		ID string          `json:"id"`
		Tx json.RawMessage `json:"tx"`
	}
	out := struct {
		Height      int64   `json:"height"`
		TimeUnix    int64   `json:"time_unix"`
		Proposer    string  `json:"proposer"`
		PrevAppHash string  `json:"prev_app_hash"`
		AppHash     string  `json:"app_hash"`
		StateHash   string  `json:"state_hash"`
		Txs         []txOut `json:"txs"`
	}{Height: cb.Block.Height, TimeUnix: cb.Block.TimeUnix, Proposer: cb.Block.Proposer,
		PrevAppHash: hex.EncodeToString(cb.Block.PrevAppHash), AppHash: hex.EncodeToString(cb.AppHash),
		StateHash: cb.StateHash, Txs: []txOut{}}
	for i, raw := range cb.Block.Txs {
		t := txOut{ID: node.TxID(raw), Tx: json.RawMessage("null")}
		tx := &chainpb.Tx{}
		if proto.Unmarshal(raw, tx) == nil {
			if b, err := (protojson.MarshalOptions{UseProtoNames: true}).Marshal(tx); err == nil {
				t.Tx = b
			}
		}
		if i < len(cb.TxIds) && cb.TxIds[i] != t.ID {
			return fmt.Errorf("block %d: tx %d has id %s, the block says %s", cb.Block.Height, i, t.ID, cb.TxIds[i])
		}
		out.Txs = append(out.Txs, t)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
