package node

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/genesis"
	chainpb "swingsetd.dev/gen/swingchainv1"
)

// The app hash encodings (README, "swingchain: app hash"). Integers are big-endian; "lp(x)" is a
// 4-byte length followed by the bytes of x.
//
// Genesis (height 0):
//
//	SHA-256( "swingchain.genesis.v1" || lp(chain_id) || u32(number of validators) ||
//	         lp(validator id)... (genesis order) || SHA-256(sidecar genesis) )
//
// where "sidecar genesis" is the protobuf encoding of the swingsetd.v1.Genesis sent to the
// sidecar's Init (vat sources inline; fields in field-number order, no unknown fields). The
// validators' addresses are not part of it (a deployment may move a node).
//
// Block at height h >= 1:
//
//	SHA-256( "swingchain.apphash.v1" || prev_app_hash (32 bytes) || u64(h) || i64(time_unix) ||
//	         u32(number of txs) || lp(tx)... (block order) || lp(state_hash) )
//
// where tx is each tx's bytes as carried in the block and state_hash is the sidecar's state hash
// after the block (its hex string decoded to bytes).
const (
	genesisDomain = "swingchain.genesis.v1"
	blockDomain   = "swingchain.apphash.v1"
)

func putLP(h interface{ Write([]byte) (int, error) }, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// GenesisAppHash is the app hash of height 0.
func GenesisAppHash(g *genesis.Genesis) ([]byte, error) {
	sc, err := proto.MarshalOptions{Deterministic: true}.Marshal(g.Sidecar)
	if err != nil {
		return nil, fmt.Errorf("genesis: encode the sidecar genesis: %w", err)
	}
	scHash := sha256.Sum256(sc)
	h := sha256.New()
	h.Write([]byte(genesisDomain))
	putLP(h, []byte(g.ChainID))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(g.Validators)))
	h.Write(n[:])
	for _, v := range g.Validators {
		putLP(h, []byte(v.ID))
	}
	h.Write(scHash[:])
	return h.Sum(nil), nil
}

// BlockAppHash is the app hash of block b after the sidecar answered stateHashHex.
func BlockAppHash(b *chainpb.Block, stateHashHex string) ([]byte, error) {
	sh, err := hex.DecodeString(stateHashHex)
	if err != nil || len(sh) == 0 {
		return nil, fmt.Errorf("state hash %q is not hex", stateHashHex)
	}
	if len(b.PrevAppHash) != sha256.Size {
		return nil, fmt.Errorf("block %d: prev_app_hash has %d bytes, want 32", b.Height, len(b.PrevAppHash))
	}
	h := sha256.New()
	h.Write([]byte(blockDomain))
	h.Write(b.PrevAppHash)
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(b.Height))
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], uint64(b.TimeUnix))
	h.Write(buf[:])
	binary.BigEndian.PutUint32(buf[:4], uint32(len(b.Txs)))
	h.Write(buf[:4])
	for _, tx := range b.Txs {
		putLP(h, tx)
	}
	putLP(h, sh)
	return h.Sum(nil), nil
}

// TxID is the hex SHA-256 of a tx's bytes.
func TxID(tx []byte) string {
	s := sha256.Sum256(tx)
	return hex.EncodeToString(s[:])
}
