package blockstore

import "encoding/binary"

// Key layout of a swingchain node's LevelDB store (--home DIR/data). One byte-string prefix per
// kind; integers are big-endian so keys sort by number.
//
//	k/<keeper key>        the keeper's own KVStore (chain/swingset keys.go), written per block
//	n/height              last committed height (8 bytes)
//	n/genesis             the genesis app hash (32 bytes): a store belongs to one genesis
//	n/halt                the halt record (swingchain.v1.Halt) once the chain halted here
//	n/proposed            proposer only: the block being executed (swingchain.v1.Block), written
//	                      (synced) before its execution starts and deleted by its commit, so a
//	                      restarted proposer re-executes exactly the block its sidecar may have
//	                      committed already
//	b/<height:8>          a committed block (swingchain.v1.CommittedBlock)
//	t/<tx id:32>          a committed tx's place (swingchain.v1.TxRecord)
//	m/<arrival:8>         proposer only: a mempool tx (its bytes), deleted by the commit of the
//	                      block that includes it
//
// A block's commit writes its keeper writes, b/, t/, the m/ deletions and n/height as one
// synced batch, after the sidecar's Commit.
var (
	prefixKeeper  = []byte("k/")
	keyHeight     = []byte("n/height")
	keyGenesis    = []byte("n/genesis")
	keyHalt       = []byte("n/halt")
	keyProposed   = []byte("n/proposed")
	prefixBlock   = []byte("b/")
	prefixTx      = []byte("t/")
	prefixMempool = []byte("m/")
)

func join(prefix, rest []byte) []byte {
	k := make([]byte, 0, len(prefix)+len(rest))
	return append(append(k, prefix...), rest...)
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func blockKey(height int64) []byte     { return join(prefixBlock, u64(uint64(height))) }
func txKey(id []byte) []byte           { return join(prefixTx, id) }
func mempoolKey(arrival uint64) []byte { return join(prefixMempool, u64(arrival)) }
