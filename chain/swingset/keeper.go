package swingset

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "swingsetd.dev/gen/swingsetdv1"
)

// KVStore is the keeper's own state: the app's store (or a prefix of it), committed by the app
// after Commit. The keeper's key layout is in keys.go.
type KVStore interface {
	Get(key []byte) ([]byte, error) // (nil, nil) when absent
	Set(key, value []byte) error
	Delete(key []byte) error
	// Iterate calls fn for each key with the prefix in ascending key order, stopping when fn
	// returns false.
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
}

// DefaultMaxMessageBytes is the largest EndBlock response the sidecar can send: its send limit,
// 64 MiB. A genesis whose limits allow a larger response is refused by the sidecar (README,
// "max_end_block_response_bytes"), so a client that accepts this much decodes every answer.
const DefaultMaxMessageBytes = 64 << 20

// DefaultMaxRequestBytes is the sidecar's default --max-message-bytes, the largest request it
// accepts. The keeper's requests stay under it (MaxEndBlockActionSize).
const DefaultMaxRequestBytes = 16 << 20

// Config of a Keeper.
type Config struct {
	Sidecar         string // "127.0.0.1:26660", "[::1]:26660", "localhost:26660" or "unix:/path"
	MaxMessageBytes int    // receive limit; 0 = DefaultMaxMessageBytes
	// Backoff while the sidecar is down or restarting: the first wait, doubled up to the last.
	// 0 = 100 ms and 5 s.
	RetryInitial, RetryMax time.Duration
	Logf                   func(format string, args ...interface{}) // nil = silent
}

// BlockResult is what EndBlock returns and stores.
type BlockResult struct {
	Height                  int64
	StateHash, ActivityHash []byte // the sidecar's hex strings as bytes
	// One per consumed action, in queue order; each result's Id is the action's queue seq.
	Results   []*pb.ActionResult
	Settled   []*pb.PromiseResult
	Mailboxes []*pb.MailboxState
	// The whole answer. From LastBlock it has stats_json and replayed cleared (they are
	// node-local: a replay sets replayed, and stats carry wall times).
	Response *pb.EndBlockResponse
}

type phase int

const (
	phaseIdle  phase = iota // no block in progress
	phaseBegun              // BeginBlock(height) done
	phaseEnded              // EndBlock(height) done, Commit expected
)

// Keeper drives one swingsetd sidecar. Its methods are called from one goroutine, in ABCI
// order; the query methods may be called from any goroutine (they read the store only).
type Keeper struct {
	store KVStore
	cfg   Config
	conn  *grpc.ClientConn
	lc    pb.LifecycleClient

	mu          sync.Mutex // serializes the lifecycle methods
	initialized bool
	genesis     *pb.Genesis // kept for re-Init after a sidecar restart
	saved       int64       // the sidecar's saved height as last reported
	needResync  bool        // the sidecar may have restarted: Init and re-drive first

	phase    phase
	height   int64
	timeUnix int64
	batch    []*pb.Action         // handed to EndBlock(height)
	ended    *pb.EndBlockResponse // its consensus part, to check a re-driven block against
}

// NewKeeper connects (lazily) to the sidecar. Only loopback addresses and unix sockets are
// accepted: the Lifecycle service is plaintext.
func NewKeeper(store KVStore, cfg Config) (*Keeper, error) {
	if store == nil {
		return nil, errors.New("swingset: NewKeeper: nil store")
	}
	if cfg.MaxMessageBytes < 0 {
		return nil, fmt.Errorf("swingset: NewKeeper: MaxMessageBytes %d is negative", cfg.MaxMessageBytes)
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.RetryInitial < 0 || cfg.RetryMax < 0 {
		return nil, errors.New("swingset: NewKeeper: negative retry durations")
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = 100 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Second
	}
	if cfg.RetryMax < cfg.RetryInitial {
		cfg.RetryMax = cfg.RetryInitial
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...interface{}) {}
	}
	network, addr, err := parseSidecar(cfg.Sidecar)
	if err != nil {
		return nil, err
	}
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	conn, err := grpc.Dial("passthrough:///"+cfg.Sidecar,
		grpc.WithInsecure(),
		grpc.WithContextDialer(dialer),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: cfg.RetryInitial, Multiplier: 2, Jitter: 0.2,
				MaxDelay: cfg.RetryMax},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(DefaultMaxRequestBytes)))
	if err != nil {
		return nil, fmt.Errorf("swingset: dial %s: %w", cfg.Sidecar, err)
	}
	return &Keeper{store: store, cfg: cfg, conn: conn, lc: pb.NewLifecycleClient(conn)}, nil
}

func parseSidecar(s string) (network, addr string, err error) {
	if strings.HasPrefix(s, "unix:") {
		path := strings.TrimPrefix(s, "unix:")
		if path == "" {
			return "", "", errors.New("swingset: Config.Sidecar: empty unix socket path")
		}
		return "unix", path, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", fmt.Errorf("swingset: Config.Sidecar %q: want HOST:PORT or unix:PATH: %v", s, err)
	}
	if port == "" || port == "0" {
		return "", "", fmt.Errorf("swingset: Config.Sidecar %q: no port", s)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", "", fmt.Errorf("swingset: Config.Sidecar %q: only loopback addresses or unix sockets (the Lifecycle service is plaintext)", s)
		}
	}
	return "tcp", s, nil
}

// Close closes the connection to the sidecar.
func (k *Keeper) Close() error { return k.conn.Close() }

// InitChain calls the sidecar's Init, once per process start (not only at genesis): on an empty
// sidecar store it applies genesis, otherwise genesis (nil allowed) is checked against the
// store's. It returns the sidecar's saved height (0 on a fresh store). A refusal is a
// *HaltError at height 0.
func (k *Keeper) InitChain(ctx context.Context, genesis *pb.Genesis) (int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.phase != phaseIdle {
		return 0, fmt.Errorf("swingset: InitChain during block %d", k.height)
	}
	if genesis != nil {
		genesis = proto.Clone(genesis).(*pb.Genesis)
	}
	k.genesis = genesis
	var resp *pb.InitResponse
	err := k.retry(ctx, "Init", 0, func(ctx context.Context) error {
		var err error
		resp, err = k.lc.Init(ctx, &pb.InitRequest{Genesis: k.genesis})
		return err
	}, false)
	if err != nil {
		return 0, k.haltOr(err, 0, "Init")
	}
	k.initialized = true
	k.needResync = false
	k.saved = resp.SavedHeight
	k.cfg.Logf("swingset: sidecar at saved height %d (chain %s, genesis applied %v, state_hash %s)",
		resp.SavedHeight, resp.ChainId, resp.GenesisApplied, short(resp.StateHash))
	return resp.SavedHeight, nil
}

// BeginBlock starts block height: the keeper's stored height + 1. When the sidecar already
// committed it (the app crashed after the sidecar's Commit and before its own), the sidecar
// replays it.
func (k *Keeper) BeginBlock(ctx context.Context, height int64, blockTime time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.initialized {
		return errors.New("swingset: BeginBlock before InitChain")
	}
	if k.phase != phaseIdle {
		return fmt.Errorf("swingset: BeginBlock(%d) while block %d is in progress", height, k.height)
	}
	stored, err := getUint64(k.store, keyHeight, 0)
	if err != nil {
		return err
	}
	if height != int64(stored)+1 {
		return fmt.Errorf("swingset: BeginBlock(%d): the keeper's store is at height %d, so the next block is %d",
			height, stored, stored+1)
	}
	if k.saved != height-1 && k.saved != height {
		return &HaltError{Height: height, Code: codes.FailedPrecondition,
			Msg: fmt.Sprintf("the sidecar's saved height is %d: it can start block %d or replay %d, not run %d (restore the sidecar's or the app's state so they match)",
				k.saved, k.saved+1, k.saved, height)}
	}
	k.height = height
	k.timeUnix = blockTime.Unix()
	k.batch = nil
	k.ended = nil
	err = k.retry(ctx, "BeginBlock", height, func(ctx context.Context) error {
		return k.beginBlock(ctx)
	}, true)
	if err != nil {
		return k.haltOr(err, height, "BeginBlock")
	}
	k.phase = phaseBegun
	return nil
}

func (k *Keeper) beginBlock(ctx context.Context) error {
	resp, err := k.lc.BeginBlock(ctx, &pb.BeginBlockRequest{Height: k.height, TimeUnix: k.timeUnix})
	if err != nil {
		return err
	}
	if resp.Replay {
		k.cfg.Logf("swingset: height %d was committed by the sidecar already: replaying it", k.height)
	}
	return nil
}

// DeliverTx validates an action and appends it to the queue; it returns the action's queue
// sequence number, which becomes its id (the id given is ignored). An invalid action is an
// *InvalidActionError and stores nothing.
func (k *Keeper) DeliverTx(ctx context.Context, action *pb.Action) (uint64, error) {
	if err := ValidateAction(action); err != nil {
		return 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	next, err := getUint64(k.store, keyNextSeq, 1)
	if err != nil {
		return 0, err
	}
	a := proto.Clone(action).(*pb.Action)
	a.Id = next
	b, err := proto.Marshal(a)
	if err != nil {
		return 0, &InvalidActionError{Field: "action", Msg: err.Error()}
	}
	if err := k.store.Set(queueKey(next), b); err != nil {
		return 0, fmt.Errorf("swingset: store set: %w", err)
	}
	if err := k.store.Set(keyNextSeq, encodeUint64(next+1)); err != nil {
		// The caller's store is now half-written; the app must discard it (a store that fails
		// a write is broken anyway).
		return 0, fmt.Errorf("swingset: store set: %w", err)
	}
	return next, nil
}

// QueueLen is the number of actions waiting for EndBlock.
func (k *Keeper) QueueLen() (uint64, error) {
	head, err := getUint64(k.store, keyHead, 1)
	if err != nil {
		return 0, err
	}
	next, err := getUint64(k.store, keyNextSeq, 1)
	if err != nil {
		return 0, err
	}
	if next < head {
		return 0, fmt.Errorf("swingset: store: queue head %d is beyond next seq %d", head, next)
	}
	return next - head, nil
}

// loadBatch: the queued actions EndBlock hands over, from the head, at most MaxActionsPerBlock
// and MaxEndBlockActionSize encoded bytes (at least one action when any is queued).
func (k *Keeper) loadBatch() ([]*pb.Action, error) {
	head, err := getUint64(k.store, keyHead, 1)
	if err != nil {
		return nil, err
	}
	var batch []*pb.Action
	size := 0
	want := head
	var ferr error
	err = k.store.Iterate(prefixQueue, func(key, value []byte) bool {
		if len(key) != len(prefixQueue)+8 {
			ferr = fmt.Errorf("swingset: store: bad queue key %q", key)
			return false
		}
		seq := beUint64(key[len(prefixQueue):])
		if seq < head {
			ferr = fmt.Errorf("swingset: store: queue entry %d below the head %d", seq, head)
			return false
		}
		if seq != want {
			ferr = fmt.Errorf("swingset: store: queue entry %d missing (found %d)", want, seq)
			return false
		}
		if len(batch) >= MaxActionsPerBlock || (len(batch) > 0 && size+len(value)+8 > MaxEndBlockActionSize) {
			return false
		}
		a := &pb.Action{}
		if err := proto.Unmarshal(value, a); err != nil {
			ferr = fmt.Errorf("swingset: store: queue entry %d: %v", seq, err)
			return false
		}
		if a.Id != seq {
			ferr = fmt.Errorf("swingset: store: queue entry %d holds action id %d", seq, a.Id)
			return false
		}
		batch = append(batch, a)
		size += len(value) + 8
		want++
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return batch, nil
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// EndBlock hands the queued actions to the sidecar, deletes the prefix it consumed and stores
// the block's results (keys.go); it returns them.
func (k *Keeper) EndBlock(ctx context.Context) (*BlockResult, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.phase != phaseBegun {
		return nil, errors.New("swingset: EndBlock without BeginBlock")
	}
	batch, err := k.loadBatch()
	if err != nil {
		return nil, err
	}
	k.batch = batch
	var resp *pb.EndBlockResponse
	err = k.retry(ctx, "EndBlock", k.height, func(ctx context.Context) error {
		var err error
		resp, err = k.lc.EndBlock(ctx, &pb.EndBlockRequest{Height: k.height, Actions: k.batch})
		return err
	}, true)
	if err != nil {
		return nil, k.haltOr(err, k.height, "EndBlock")
	}
	if err := checkResponse(k.height, k.batch, resp); err != nil {
		return nil, err
	}
	res, err := k.storeBlock(resp)
	if err != nil {
		return nil, err
	}
	k.ended = consensusPart(resp)
	k.phase = phaseEnded
	return res, nil
}

// checkResponse: an answer that does not fit the request halts (a sidecar bug or a mismatch
// between what the node sent and what the sidecar ran).
func checkResponse(height int64, batch []*pb.Action, r *pb.EndBlockResponse) error {
	bad := func(format string, args ...interface{}) error {
		return &HaltError{Height: height, Code: codes.Internal,
			Msg: "EndBlock response: " + fmt.Sprintf(format, args...)}
	}
	if r.Height != height {
		return bad("height %d", r.Height)
	}
	if r.ActionsConsumed > uint64(len(batch)) {
		return bad("%d actions consumed of %d", r.ActionsConsumed, len(batch))
	}
	if uint64(len(r.Results)) != r.ActionsConsumed {
		return bad("%d results for %d consumed actions", len(r.Results), r.ActionsConsumed)
	}
	for i, res := range r.Results {
		if res == nil || res.Id != batch[i].Id {
			return bad("results[%d] is not for action %d", i, batch[i].Id)
		}
	}
	if !isHex(r.StateHash) || !isHex(r.ActivityHash) {
		return bad("hashes are not hex")
	}
	seen := map[string]bool{}
	for i, p := range r.Settled {
		if p == nil || p.Kpid == "" {
			return bad("settled[%d] has no kpid", i)
		}
		if seen[p.Kpid] {
			return bad("settled[%d]: %s twice", i, p.Kpid)
		}
		seen[p.Kpid] = true
	}
	peers := map[string]bool{}
	for i, m := range r.Mailboxes {
		if m == nil || m.Peer == "" {
			return bad("mailboxes[%d] has no peer", i)
		}
		if peers[m.Peer] {
			return bad("mailboxes[%d]: %s twice", i, m.Peer)
		}
		peers[m.Peer] = true
	}
	return nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// consensusPart: the response without its node-local fields (stats_json; replayed, set on a
// replay only).
func consensusPart(r *pb.EndBlockResponse) *pb.EndBlockResponse {
	c := proto.Clone(r).(*pb.EndBlockResponse)
	c.StatsJson = ""
	c.Replayed = false
	return c
}

func (k *Keeper) storeBlock(resp *pb.EndBlockResponse) (*BlockResult, error) {
	set := func(key []byte, m proto.Message) error {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			return fmt.Errorf("swingset: encode %q: %w", key, err)
		}
		if err := k.store.Set(key, b); err != nil {
			return fmt.Errorf("swingset: store set %q: %w", key, err)
		}
		return nil
	}
	for i := uint64(0); i < resp.ActionsConsumed; i++ {
		seq := k.batch[i].Id
		if err := k.store.Delete(queueKey(seq)); err != nil {
			return nil, fmt.Errorf("swingset: store delete: %w", err)
		}
		if err := set(resultKey(seq), resp.Results[i]); err != nil {
			return nil, err
		}
	}
	if resp.ActionsConsumed > 0 {
		head := k.batch[resp.ActionsConsumed-1].Id + 1
		if err := k.store.Set(keyHead, encodeUint64(head)); err != nil {
			return nil, fmt.Errorf("swingset: store set: %w", err)
		}
	}
	for _, p := range resp.Settled {
		if err := set(settledKey(p.Kpid), p); err != nil {
			return nil, err
		}
	}
	for _, m := range resp.Mailboxes {
		if err := set(mailboxKey(m.Peer), m); err != nil {
			return nil, err
		}
	}
	if err := set(keyLastBlock, consensusPart(resp)); err != nil {
		return nil, err
	}
	if err := k.store.Set(keyHeight, encodeUint64(uint64(resp.Height))); err != nil {
		return nil, fmt.Errorf("swingset: store set: %w", err)
	}
	return blockResult(resp), nil
}

func blockResult(resp *pb.EndBlockResponse) *BlockResult {
	return &BlockResult{
		Height:       resp.Height,
		StateHash:    []byte(resp.StateHash),
		ActivityHash: []byte(resp.ActivityHash),
		Results:      resp.Results,
		Settled:      resp.Settled,
		Mailboxes:    resp.Mailboxes,
		Response:     resp,
	}
}

// Commit makes the sidecar write the block durably. The app commits its own store after this
// returns; if it crashes before, it re-drives the same height and the sidecar replays it.
func (k *Keeper) Commit(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.phase != phaseEnded {
		return errors.New("swingset: Commit without EndBlock")
	}
	var resp *pb.CommitResponse
	err := k.retry(ctx, "Commit", k.height, func(ctx context.Context) error {
		var err error
		resp, err = k.lc.Commit(ctx, &pb.CommitRequest{Height: k.height})
		return err
	}, true)
	if err != nil {
		return k.haltOr(err, k.height, "Commit")
	}
	if resp.Height != k.height || resp.StateHash != k.ended.StateHash {
		return &HaltError{Height: k.height, Code: codes.Internal,
			Msg: fmt.Sprintf("Commit answered height %d state_hash %s; EndBlock gave %s",
				resp.Height, short(resp.StateHash), short(k.ended.StateHash))}
	}
	k.saved = k.height
	k.phase = phaseIdle
	k.batch = nil
	return nil
}

// retry runs call until it succeeds, returns a non-transient error, or ctx is done. While the
// sidecar is unavailable it waits with backoff. After a failure that may mean the sidecar
// restarted (UNAVAILABLE, or FAILED_PRECONDITION the first time: a restarted sidecar waits for
// Init), the next attempt first re-initializes the sidecar and re-drives the block in progress
// (resync), when redrive is set.
func (k *Keeper) retry(ctx context.Context, what string, height int64, call func(context.Context) error, redrive bool) error {
	delay := k.cfg.RetryInitial
	preconditionRetried := false
	for {
		var err error
		if redrive && k.needResync {
			err = k.resync(ctx)
			if err == nil {
				k.needResync = false
			}
		}
		if err == nil {
			err = call(ctx)
		}
		if err == nil {
			return nil
		}
		if _, ok := IsHalt(err); ok {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("swingset: %s at height %d: %w (last error: %v)", what, height, ctx.Err(), err)
		}
		switch {
		case transient(err):
			k.needResync = true
		case redrive && status.Code(err) == codes.FailedPrecondition && !preconditionRetried:
			// A sidecar restarted between two calls answers "not initialized": Init and
			// re-drive once; a second refusal halts.
			preconditionRetried = true
			k.needResync = true
			k.cfg.Logf("swingset: %s at height %d refused (%v); re-initializing the sidecar once", what, height, err)
			continue
		default:
			return err
		}
		k.cfg.Logf("swingset: %s at height %d: sidecar unavailable (%v); retrying in %s", what, height, status.Convert(err).Message(), delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("swingset: %s at height %d: %w (last error: %v)", what, height, ctx.Err(), err)
		}
		delay *= 2
		if delay > k.cfg.RetryMax {
			delay = k.cfg.RetryMax
		}
	}
}

// resync: Init the sidecar again and bring it to where the keeper's block stands (BeginBlock,
// and EndBlock with the same actions when the block had ended, checking that the answer is
// the same). A sidecar at a height it cannot continue from halts.
func (k *Keeper) resync(ctx context.Context) error {
	resp, err := k.lc.Init(ctx, &pb.InitRequest{Genesis: k.genesis})
	if err != nil {
		if transient(err) {
			return err
		}
		return halt(k.height, err, "Init (re-initializing a restarted sidecar)")
	}
	k.saved = resp.SavedHeight
	k.cfg.Logf("swingset: sidecar re-initialized at saved height %d", resp.SavedHeight)
	if k.phase == phaseIdle {
		return nil
	}
	if k.saved != k.height-1 && k.saved != k.height {
		return &HaltError{Height: k.height, Code: codes.FailedPrecondition,
			Msg: fmt.Sprintf("the restarted sidecar's saved height is %d; block %d cannot be run or replayed on it", k.saved, k.height)}
	}
	if err := k.beginBlock(ctx); err != nil {
		if transient(err) {
			return err
		}
		return halt(k.height, err, "BeginBlock (re-driving after a sidecar restart)")
	}
	if k.phase == phaseBegun {
		return nil
	}
	end, err := k.lc.EndBlock(ctx, &pb.EndBlockRequest{Height: k.height, Actions: k.batch})
	if err != nil {
		if transient(err) {
			return err
		}
		return halt(k.height, err, "EndBlock (re-driving after a sidecar restart)")
	}
	if !proto.Equal(consensusPart(end), k.ended) {
		return &HaltError{Height: k.height, Code: codes.DataLoss,
			Msg: fmt.Sprintf("the re-driven block differs from the first run: state_hash %s, was %s",
				short(end.StateHash), short(k.ended.StateHash))}
	}
	return nil
}

// haltOr turns a sidecar refusal into a *HaltError; context ends and store errors pass through.
func (k *Keeper) haltOr(err error, height int64, what string) error {
	if _, ok := IsHalt(err); ok {
		return err
	}
	if _, ok := status.FromError(err); !ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return halt(height, err, what)
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
