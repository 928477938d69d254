package swingset

import (
	"encoding/binary"
	"fmt"
)

// The keeper's KV store layout: every key the keeper reads or writes is built here. The store
// is the keeper's own (the app gives it a store or a prefix of its store); everything in it is
// app state, written the same way on every node, so the app may hash it.
//
//	q/<seq:8 bytes big-endian>   an Action waiting for EndBlock (protobuf; its id is seq)
//	r/<seq:8 bytes big-endian>   the ActionResult of a consumed action (protobuf; id = seq)
//	s/<kpid>                     a settled PromiseResult, by its kernel promise id (protobuf)
//	m/<peer>                     the last outbound MailboxState of a peer (protobuf)
//	meta/next_seq                the next queue sequence number (8 bytes big-endian; absent = 1)
//	meta/head                    the first sequence number still queued (absent = 1)
//	meta/height                  the height of the last EndBlock stored (8 bytes; absent = 0)
//	meta/last_block              that EndBlock's response without its node-local fields
//	                             (stats_json and replayed cleared; protobuf)
//
// Sequence numbers start at 1 and are never reused. Queue entries in [head, next_seq) exist;
// results exist for every seq below head.
var (
	prefixQueue   = []byte("q/")
	prefixResult  = []byte("r/")
	prefixSettled = []byte("s/")
	prefixMailbox = []byte("m/")
	keyNextSeq    = []byte("meta/next_seq")
	keyHead       = []byte("meta/head")
	keyHeight     = []byte("meta/height")
	keyLastBlock  = []byte("meta/last_block")
)

func seqKey(prefix []byte, seq uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], seq)
	return k
}

func queueKey(seq uint64) []byte  { return seqKey(prefixQueue, seq) }
func resultKey(seq uint64) []byte { return seqKey(prefixResult, seq) }

func settledKey(kpid string) []byte { return append(append([]byte{}, prefixSettled...), kpid...) }
func mailboxKey(peer string) []byte { return append(append([]byte{}, prefixMailbox...), peer...) }

func encodeUint64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// getUint64 reads an 8-byte counter; absent gives def.
func getUint64(s KVStore, key []byte, def uint64) (uint64, error) {
	b, err := s.Get(key)
	if err != nil {
		return 0, fmt.Errorf("swingset: store get %q: %w", key, err)
	}
	if b == nil {
		return def, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("swingset: store key %q holds %d bytes, not 8", key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
