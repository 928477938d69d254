// Package blockstore is a swingchain node's own state in LevelDB (goleveldb): the keeper's
// KVStore, committed blocks, the tx index, the proposer's mempool and the node's markers
// (height, genesis, halt). keys.go documents the key layout.
//
// The keeper's writes of the block being executed stay in memory (Pending) until CommitBlock
// writes them together with the block, its tx records and the new height as one synced batch;
// Discard drops them. Reads through Pending see those writes; reads through Committed see only
// what was committed.
package blockstore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/comparer"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/memdb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
	"google.golang.org/protobuf/proto"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

// Store is one node's LevelDB store. Its methods are safe for concurrent use; the pending
// block (Pending, Discard, CommitBlock) has one writer, the node's block executor.
type Store struct {
	db      *leveldb.DB
	pending *memdb.DB // full keys (k/...); value = 1 byte tag (1 set, 0 deleted) + value
	commit  sync.Mutex
}

var (
	syncWrite = &opt.WriteOptions{Sync: true}
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("blockstore: closed")
)

// Open opens (or creates) the store in dir. Checksums are verified on reads and compactions
// (goleveldb's DefaultStrict); a damaged store is refused, not repaired.
func Open(dir string) (*Store, error) {
	db, err := leveldb.OpenFile(dir, &opt.Options{Strict: opt.DefaultStrict})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return &Store{db: db, pending: memdb.New(comparer.DefaultComparer, 1<<20)}, nil
}

// Close closes the store; pending writes are dropped.
func (s *Store) Close() error {
	s.commit.Lock()
	defer s.commit.Unlock()
	return s.db.Close()
}

func (s *Store) get(key []byte) ([]byte, error) {
	v, err := s.db.Get(key, nil)
	if err == leveldb.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store read %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (s *Store) getProto(key []byte, m proto.Message) (bool, error) {
	v, err := s.get(key)
	if err != nil || v == nil {
		return false, err
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("store value at %q does not parse: %w", key, err)
	}
	return true, nil
}

func marshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 in a string field can fail here; every message stored was decoded
		// or built from checked input.
		panic(fmt.Sprintf("blockstore: marshal %T: %v", m, err))
	}
	return b
}

// Height is the last committed height (0 before the first block).
func (s *Store) Height() (int64, error) {
	v, err := s.get(keyHeight)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("store value at %q has %d bytes, want 8", keyHeight, len(v))
	}
	return int64(beU64(v)), nil
}

func beU64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// GenesisAppHash is the genesis app hash the store was created with (nil on a new store).
func (s *Store) GenesisAppHash() ([]byte, error) { return s.get(keyGenesis) }

// SetGenesisAppHash records the store's genesis (once; synced).
func (s *Store) SetGenesisAppHash(h []byte) error {
	return s.db.Put(keyGenesis, h, syncWrite)
}

// Block returns the committed block at height (nil when there is none).
func (s *Store) Block(height int64) (*chainpb.CommittedBlock, error) {
	b := &chainpb.CommittedBlock{}
	ok, err := s.getProto(blockKey(height), b)
	if !ok {
		return nil, err
	}
	return b, nil
}

// Tx returns where a committed tx is (nil when unknown); id is the 32-byte SHA-256.
func (s *Store) Tx(id []byte) (*chainpb.TxRecord, error) {
	r := &chainpb.TxRecord{}
	ok, err := s.getProto(txKey(id), r)
	if !ok {
		return nil, err
	}
	return r, nil
}

// Halt returns the halt record (nil when the chain is not halted here).
func (s *Store) Halt() (*chainpb.Halt, error) {
	h := &chainpb.Halt{}
	ok, err := s.getProto(keyHalt, h)
	if !ok {
		return nil, err
	}
	return h, nil
}

// SetHalt records the halt (synced): a restarted node stays halted.
func (s *Store) SetHalt(h *chainpb.Halt) error { return s.db.Put(keyHalt, marshal(h), syncWrite) }

// ClearHalt removes the halt record (an operator's decision, `swingchain start --clear-halt`).
func (s *Store) ClearHalt() error { return s.db.Delete(keyHalt, syncWrite) }

// Proposed returns the block the proposer was executing when it stopped (nil when none).
func (s *Store) Proposed() (*chainpb.Block, error) {
	b := &chainpb.Block{}
	ok, err := s.getProto(keyProposed, b)
	if !ok {
		return nil, err
	}
	return b, nil
}

// SetProposed records the block the proposer is about to execute (synced).
func (s *Store) SetProposed(b *chainpb.Block) error {
	return s.db.Put(keyProposed, marshal(b), syncWrite)
}

// AddMempoolBatch stores submitted txs under consecutive arrival numbers (txs[i] under
// first+i) as one write: all of them or none. Not synced: a process crash keeps them, a machine
// crash may lose them (the client then sees NOT_FOUND and resubmits).
func (s *Store) AddMempoolBatch(first uint64, txs [][]byte) error {
	batch := new(leveldb.Batch)
	for i, tx := range txs {
		batch.Put(mempoolKey(first+uint64(i)), tx)
	}
	if err := s.db.Write(batch, nil); err != nil {
		return fmt.Errorf("store: mempool write of %d txs: %w", len(txs), err)
	}
	return nil
}

// MempoolTx is one stored mempool entry.
type MempoolTx struct {
	Arrival uint64
	Tx      []byte
}

// Mempool returns the stored mempool in arrival order.
func (s *Store) Mempool() ([]MempoolTx, error) {
	it := s.db.NewIterator(util.BytesPrefix(prefixMempool), nil)
	defer it.Release()
	var out []MempoolTx
	for it.Next() {
		k := it.Key()
		if len(k) != len(prefixMempool)+8 {
			return nil, fmt.Errorf("store: malformed mempool key %q", k)
		}
		out = append(out, MempoolTx{Arrival: beU64(k[len(prefixMempool):]),
			Tx: append([]byte(nil), it.Value()...)})
	}
	return out, it.Error()
}

// CommitBlock writes, as one synced batch: the pending keeper writes, the block, one TxRecord
// per tx id (recs[i] for b.TxIds[i]), the deletion of the mempool entries `included` and of the
// proposed-block marker, and the new height. The block's height must be Height()+1. The pending
// writes are dropped afterwards whether or not the write succeeded.
func (s *Store) CommitBlock(b *chainpb.CommittedBlock, txIDs [][]byte, recs []*chainpb.TxRecord,
	included []uint64) error {
	s.commit.Lock()
	defer s.commit.Unlock()
	defer s.pending.Reset()
	h := b.GetBlock().GetHeight()
	last, err := s.Height()
	if err != nil {
		return err
	}
	if h != last+1 {
		return fmt.Errorf("store: commit of height %d after height %d", h, last)
	}
	if len(txIDs) != len(recs) {
		return fmt.Errorf("store: %d tx ids, %d records", len(txIDs), len(recs))
	}
	batch := new(leveldb.Batch)
	it := s.pending.NewIterator(nil)
	for it.Next() {
		v := it.Value()
		if v[0] == 1 {
			batch.Put(it.Key(), v[1:])
		} else {
			batch.Delete(it.Key())
		}
	}
	it.Release()
	batch.Put(blockKey(h), marshal(b))
	for i, id := range txIDs {
		batch.Put(txKey(id), marshal(recs[i]))
	}
	for _, a := range included {
		batch.Delete(mempoolKey(a))
	}
	batch.Delete(keyProposed)
	batch.Put(keyHeight, u64(uint64(h)))
	if err := s.db.Write(batch, syncWrite); err != nil {
		return fmt.Errorf("store: commit of height %d: %w", h, err)
	}
	return nil
}

// Discard drops the pending keeper writes (the block in progress is abandoned).
func (s *Store) Discard() { s.pending.Reset() }

// Pending is the keeper's KVStore for the block being executed.
func (s *Store) Pending() *KV { return &KV{s: s, pending: true} }

// Committed is a read-only view of the keeper's KVStore as last committed, for queries that
// run beside block execution. Its Set and Delete fail.
func (s *Store) Committed() *KV { return &KV{s: s} }

// KV implements the keeper's KVStore (chain/swingset) over the store's k/ keys.
type KV struct {
	s       *Store
	pending bool
}

var errReadOnly = errors.New("blockstore: the committed view is read-only")

// Get returns the value, or (nil, nil) when absent. The result is the caller's.
func (kv *KV) Get(key []byte) ([]byte, error) {
	full := join(prefixKeeper, key)
	if kv.pending {
		if v, err := kv.s.pending.Get(full); err == nil {
			if v[0] == 0 {
				return nil, nil
			}
			return append([]byte{}, v[1:]...), nil
		}
	}
	return kv.s.get(full)
}

// Set stores value under key in the pending block.
func (kv *KV) Set(key, value []byte) error {
	if !kv.pending {
		return errReadOnly
	}
	v := make([]byte, 1+len(value))
	v[0] = 1
	copy(v[1:], value)
	return kv.s.pending.Put(join(prefixKeeper, key), v)
}

// Delete removes key in the pending block.
func (kv *KV) Delete(key []byte) error {
	if !kv.pending {
		return errReadOnly
	}
	return kv.s.pending.Put(join(prefixKeeper, key), []byte{0})
}

// Iterate calls fn for each key with the prefix, in ascending key order, until fn returns false.
// The committed side is a snapshot taken at the start; writes fn makes to the pending block may
// or may not be seen by the rest of the iteration (as with a Go map).
func (kv *KV) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	rng := util.BytesPrefix(join(prefixKeeper, prefix))
	dbIt := kv.s.db.NewIterator(rng, nil)
	defer dbIt.Release()
	var memIt iterator.Iterator
	if kv.pending {
		memIt = kv.s.pending.NewIterator(rng)
		defer memIt.Release()
	}
	dbOK := dbIt.Next()
	memOK := memIt != nil && memIt.Next()
	strip := len(prefixKeeper)
	for dbOK || memOK {
		var key, val []byte
		switch {
		case memOK && (!dbOK || bytes.Compare(memIt.Key(), dbIt.Key()) <= 0):
			if dbOK && bytes.Equal(memIt.Key(), dbIt.Key()) {
				dbOK = dbIt.Next()
			}
			v := memIt.Value()
			key = append([]byte(nil), memIt.Key()[strip:]...)
			if v[0] == 1 {
				val = append([]byte{}, v[1:]...)
			}
			memOK = memIt.Next()
			if v[0] == 0 {
				continue
			}
		default:
			key = append([]byte(nil), dbIt.Key()[strip:]...)
			val = append([]byte{}, dbIt.Value()...)
			dbOK = dbIt.Next()
		}
		if !fn(key, val) {
			return nil
		}
	}
	if err := dbIt.Error(); err != nil {
		return fmt.Errorf("store iterate: %w", err)
	}
	if memIt != nil {
		return memIt.Error()
	}
	return nil
}
