package node

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"swingsetd.dev/chain/swingset"
	chainpb "swingsetd.dev/gen/swingchainv1"
	pb "swingsetd.dev/gen/swingsetdv1"
)

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// encodeTx is a tx's canonical bytes: its deterministic protobuf encoding.
func encodeTx(tx *chainpb.Tx) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(tx)
}

// decodeTx parses tx bytes; they must be the canonical encoding of a Tx with an action.
func decodeTx(raw []byte) (*chainpb.Tx, error) {
	if len(raw) > MaxTxBytes {
		return nil, fmt.Errorf("tx: %d bytes; at most %d", len(raw), MaxTxBytes)
	}
	tx := &chainpb.Tx{}
	if err := proto.Unmarshal(raw, tx); err != nil {
		return nil, fmt.Errorf("tx: not a swingchain.v1.Tx: %v", err)
	}
	again, err := encodeTx(tx)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, errors.New("tx: not the canonical (deterministic protobuf) encoding of a swingchain.v1.Tx")
	}
	if tx.Action == nil {
		return nil, errors.New("tx.action: neither call_vat nor deliver_inbound")
	}
	return tx, nil
}

// txAction is the keeper action of a tx.
func txAction(tx *chainpb.Tx) *pb.Action {
	switch a := tx.Action.(type) {
	case *chainpb.Tx_CallVat:
		return &pb.Action{Kind: &pb.Action_CallVat{CallVat: a.CallVat}}
	case *chainpb.Tx_DeliverInbound:
		return &pb.Action{Kind: &pb.Action_DeliverInbound{DeliverInbound: a.DeliverInbound}}
	}
	return &pb.Action{}
}

// checkTx: the tx's action is one the keeper (and so the sidecar) accepts. The error names the
// field as "tx.call_vat.method".
func checkTx(tx *chainpb.Tx) error {
	if tx.Action == nil {
		return errors.New("tx.action: neither call_vat nor deliver_inbound")
	}
	if err := swingset.ValidateAction(txAction(tx)); err != nil {
		var inv *swingset.InvalidActionError
		if errors.As(err, &inv) {
			return fmt.Errorf("tx.%s: %s", inv.Field, inv.Msg)
		}
		return fmt.Errorf("tx: %v", err)
	}
	return nil
}
