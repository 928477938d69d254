package swingsettest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "swingsetd.dev/gen/swingsetdv1"
)

// FakeSidecar is an in-process swingsetd.v1.Lifecycle server with the real sidecar's height
// rules (docs/DESIGN.md §2): Init, BeginBlock(saved+1) or a replay of saved, EndBlock, Commit,
// anything else FAILED_PRECONDITION; a replay returns the stored response with replayed set.
// Its committed state survives Restart (a process restart); the block in progress does not.
//
// Its "kernel" is a toy: each consumed call_vat gets the result promise kp<id> which settles in
// the same block, fulfilled with {"vat","method","args"} (rejected for method "fail"; a string
// of N bytes for method "big" with args [N]; settling one block later for method "later");
// vat "missing" is an unknown vat. A deliver_inbound acks its highest message number and puts
// one outbound message per inbound one into the peer's mailbox. The state hash chains SHA-256
// over the consumed actions.
type FakeSidecar struct {
	mu   sync.Mutex
	addr string
	srv  *grpc.Server

	// Knobs, set by tests (under Lock/Unlock when the server runs).
	ConsumeLimit int                                     // actions consumed per block; 0 = all
	Fail         func(method string, height int64) error // non-nil error: the call fails with it
	Salt         string                                  // mixed into the state hash (tamper)
	MaxRecv      int                                     // server receive limit; 0 = 16 MiB

	// Committed state.
	saved      int64
	stateHash  string
	activity   string
	genesisKey string
	stored     map[int64][]byte // height -> response (replayed = true)
	later      []*pb.PromiseResult
	mailboxes  map[string]*pb.MailboxState

	// The process's state.
	initialized bool
	phase       string // idle, begun, ended, replay-begun, replay-ended
	cur         int64
	pending     *pb.EndBlockResponse
	pendLater   []*pb.PromiseResult
	pendBoxes   map[string]*pb.MailboxState
	calls       []string

	pb.UnimplementedLifecycleServer
}

// NewFakeSidecar starts a fake sidecar on a free loopback port.
func NewFakeSidecar() (*FakeSidecar, error) {
	f := &FakeSidecar{stored: map[int64][]byte{}, mailboxes: map[string]*pb.MailboxState{},
		stateHash: hashOf("genesis"), activity: hashOf("activity")}
	if err := f.start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FakeSidecar) start(addr string) error {
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger for a moment after Stop
		lis, err = net.Listen("tcp", addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	max := f.MaxRecv
	if max == 0 {
		max = 16 << 20
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(max), grpc.MaxSendMsgSize(64<<20))
	pb.RegisterLifecycleServer(srv, f)
	f.mu.Lock()
	f.addr = lis.Addr().String()
	f.srv = srv
	f.initialized = false
	f.phase = ""
	f.pending = nil
	f.mu.Unlock()
	go srv.Serve(lis)
	return nil
}

// Addr is the server's HOST:PORT.
func (f *FakeSidecar) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// Stop stops the server (connections are cut, as when the process dies).
func (f *FakeSidecar) Stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart is Stop followed by a start on the same address, after delay: the committed state is
// kept, the block in progress and Init are lost.
func (f *FakeSidecar) Restart(delay time.Duration) error {
	f.Stop()
	time.Sleep(delay)
	return f.start(f.Addr())
}

// Lock and Unlock guard the knobs while the server runs.
func (f *FakeSidecar) Lock()   { f.mu.Lock() }
func (f *FakeSidecar) Unlock() { f.mu.Unlock() }

// Calls is the log of calls received ("Init", "BeginBlock 3", ...), including failed ones.
func (f *FakeSidecar) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.calls...)
}

// ResetCalls empties the log.
func (f *FakeSidecar) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// SavedHeight is the committed height.
func (f *FakeSidecar) SavedHeight() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saved
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (f *FakeSidecar) enter(method string, height int64) error {
	f.calls = append(f.calls, strings.TrimSpace(fmt.Sprintf("%s %s", method, heightStr(height))))
	if f.Fail != nil {
		return f.Fail(method, height)
	}
	return nil
}

func heightStr(h int64) string {
	if h < 0 {
		return ""
	}
	return fmt.Sprint(h)
}

func outOfOrder(format string, args ...interface{}) error {
	return status.Errorf(codes.FailedPrecondition, format, args...)
}

func (f *FakeSidecar) Init(_ context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Init", -1); err != nil {
		return nil, err
	}
	applied := false
	if f.genesisKey == "" {
		if req.Genesis == nil {
			return nil, status.Error(codes.InvalidArgument, "genesis: the store is empty, so Init needs a genesis")
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req.Genesis)
		f.genesisKey = req.Genesis.ChainId + "/" + hashOf(string(b))
		f.stateHash = hashOf("genesis", f.genesisKey)
		applied = true
	} else if req.Genesis != nil {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req.Genesis)
		if req.Genesis.ChainId+"/"+hashOf(string(b)) != f.genesisKey {
			return nil, outOfOrder("genesis: not this store's genesis")
		}
	}
	f.initialized = true
	f.phase = "idle"
	f.pending = nil
	chain := strings.SplitN(f.genesisKey, "/", 2)[0]
	return &pb.InitResponse{SavedHeight: f.saved, StateHash: f.stateHash, ActivityHash: f.activity,
		GenesisApplied: applied, ChainId: chain}, nil
}

func (f *FakeSidecar) BeginBlock(_ context.Context, req *pb.BeginBlockRequest) (*pb.BeginBlockResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("BeginBlock", req.Height); err != nil {
		return nil, err
	}
	if !f.initialized {
		return nil, outOfOrder("BeginBlock(%d): not initialized (call Init)", req.Height)
	}
	if f.phase != "idle" {
		return nil, outOfOrder("BeginBlock(%d): %s", req.Height, f.phase)
	}
	switch req.Height {
	case f.saved + 1:
		f.phase = "begun"
	case f.saved:
		if _, ok := f.stored[req.Height]; !ok {
			return nil, outOfOrder("BeginBlock(%d): no stored response", req.Height)
		}
		f.phase = "replay-begun"
	default:
		return nil, outOfOrder("BeginBlock: height %d but the saved height is %d", req.Height, f.saved)
	}
	f.cur = req.Height
	return &pb.BeginBlockResponse{Replay: f.phase == "replay-begun"}, nil
}

func (f *FakeSidecar) EndBlock(_ context.Context, req *pb.EndBlockRequest) (*pb.EndBlockResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("EndBlock", req.Height); err != nil {
		return nil, err
	}
	if f.phase == "replay-begun" && req.Height == f.cur {
		r := &pb.EndBlockResponse{}
		if err := proto.Unmarshal(f.stored[f.cur], r); err != nil {
			return nil, status.Error(codes.DataLoss, err.Error())
		}
		f.phase = "replay-ended"
		return r, nil
	}
	if f.phase != "begun" || req.Height != f.cur {
		return nil, outOfOrder("EndBlock(%d): %s at %d", req.Height, f.phase, f.cur)
	}
	for i, a := range req.Actions {
		switch k := a.Kind.(type) {
		case *pb.Action_CallVat:
			if k.CallVat.Vat == "" {
				return nil, status.Errorf(codes.InvalidArgument, "actions[%d].call_vat.vat: empty", i)
			}
		case *pb.Action_DeliverInbound:
			if k.DeliverInbound.Peer == "" {
				return nil, status.Errorf(codes.InvalidArgument, "actions[%d].deliver_inbound.peer: bad peer name ''", i)
			}
		default:
			return nil, status.Errorf(codes.InvalidArgument, "actions[%d]: no action kind set", i)
		}
	}
	n := len(req.Actions)
	if f.ConsumeLimit > 0 && n > f.ConsumeLimit {
		n = f.ConsumeLimit
	}
	r := &pb.EndBlockResponse{Height: req.Height, ActionsConsumed: uint64(n)}
	r.Settled = append(r.Settled, f.later...)
	var later []*pb.PromiseResult
	boxes := map[string]*pb.MailboxState{}
	var boxOrder []string
	state := f.stateHash
	activity := f.activity
	for _, a := range req.Actions[:n] {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
		state = hashOf(state, string(b), f.Salt)
		activity = hashOf(activity, "crank", string(b))
		res := &pb.ActionResult{Id: a.Id}
		switch k := a.Kind.(type) {
		case *pb.Action_CallVat:
			c := k.CallVat
			if c.Vat == "missing" {
				res.Error = "unknown vat 'missing'"
				break
			}
			res.ResultKpid = fmt.Sprintf("kp%d", 40+a.Id)
			p := settle(res.ResultKpid, c)
			if c.Method == "later" {
				later = append(later, p)
			} else {
				r.Settled = append(r.Settled, p)
			}
		case *pb.Action_DeliverInbound:
			d := k.DeliverInbound
			m, ok := boxes[d.Peer]
			if !ok {
				m = &pb.MailboxState{Peer: d.Peer}
				if old := f.mailboxes[d.Peer]; old != nil {
					m = proto.Clone(old).(*pb.MailboxState)
				}
				boxes[d.Peer] = m
				boxOrder = append(boxOrder, d.Peer)
			}
			for _, msg := range d.Messages {
				if msg.Num > m.Ack {
					m.Ack = msg.Num
					m.Outbox = append(m.Outbox, &pb.MailboxMessage{
						Num: uint64(len(m.Outbox)) + 1, Body: "echo:" + msg.Body})
				}
			}
		}
		r.Results = append(r.Results, res)
	}
	for _, p := range boxOrder {
		r.Mailboxes = append(r.Mailboxes, boxes[p])
	}
	r.StateHash = hashOf(state, fmt.Sprint(req.Height))
	r.ActivityHash = activity
	r.WorkRemains = len(later) > 0
	r.StatsJson = fmt.Sprintf(`{"wallNanos":%d}`, time.Now().UnixNano())
	f.pending = r
	f.pendLater = later
	f.pendBoxes = boxes
	f.phase = "ended"
	return r, nil
}

func settle(kpid string, c *pb.CallVat) *pb.PromiseResult {
	p := &pb.PromiseResult{Kpid: kpid, State: "fulfilled"}
	var args []interface{}
	if c.ArgsJson != "" {
		json.Unmarshal([]byte(c.ArgsJson), &args)
	}
	var v interface{} = map[string]interface{}{"vat": c.Vat, "method": c.Method, "args": args}
	switch c.Method {
	case "fail":
		p.State = "rejected"
		v = map[string]interface{}{"name": "Error", "message": "failed"}
	case "big":
		n := 0
		if len(args) > 0 {
			if f, ok := args[0].(float64); ok {
				n = int(f)
			}
		}
		v = strings.Repeat("x", n)
	}
	b, _ := json.Marshal(v)
	p.ValueJson = string(b)
	p.Body = "#" + string(b)
	return p
}

func (f *FakeSidecar) Commit(_ context.Context, req *pb.CommitRequest) (*pb.CommitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Commit", req.Height); err != nil {
		return nil, err
	}
	if f.phase == "replay-ended" && req.Height == f.cur {
		f.phase = "idle"
		return &pb.CommitResponse{Height: req.Height, StateHash: f.stateHash, Replayed: true}, nil
	}
	if f.phase != "ended" || req.Height != f.cur {
		return nil, outOfOrder("Commit(%d): %s at %d", req.Height, f.phase, f.cur)
	}
	stored := proto.Clone(f.pending).(*pb.EndBlockResponse)
	stored.Replayed = true
	b, _ := proto.Marshal(stored)
	f.stored[req.Height] = b
	f.saved = req.Height
	f.stateHash = f.pending.StateHash
	f.activity = f.pending.ActivityHash
	f.later = f.pendLater
	for p, m := range f.pendBoxes {
		f.mailboxes[p] = m
	}
	f.pending = nil
	f.phase = "idle"
	return &pb.CommitResponse{Height: req.Height, StateHash: f.stateHash}, nil
}
