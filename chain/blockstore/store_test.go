package blockstore

import (
	"bytes"
	"fmt"
	"testing"

	chainpb "swingsetd.dev/gen/swingchainv1"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type kvPair struct{ k, v string }

func collect(t *testing.T, kv *KV, prefix string) []kvPair {
	t.Helper()
	var out []kvPair
	if err := kv.Iterate([]byte(prefix), func(k, v []byte) bool {
		out = append(out, kvPair{string(k), string(v)})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func block(h int64) *chainpb.CommittedBlock {
	return &chainpb.CommittedBlock{Block: &chainpb.Block{Height: h}, AppHash: bytes.Repeat([]byte{byte(h)}, 32)}
}

func TestPendingOverlayAndCommit(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	p, c := s.Pending(), s.Committed()
	for _, k := range []string{"q/3", "q/1", "q/2", "r/1"} {
		if err := p.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := c.Get([]byte("q/1")); v != nil {
		t.Fatalf("committed view sees a pending write: %q", v)
	}
	if err := c.Set([]byte("x"), nil); err == nil {
		t.Fatal("committed view accepted a write")
	}
	if err := s.CommitBlock(block(1), [][]byte{bytes.Repeat([]byte{7}, 32)},
		[]*chainpb.TxRecord{{Height: 1, Seq: 5}}, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get([]byte("q/1")); string(v) != "vq/1" {
		t.Fatalf("after commit q/1 = %q", v)
	}
	// Block 2: delete one committed key, overwrite another, add one between, an empty value.
	p.Delete([]byte("q/1"))
	p.Set([]byte("q/2"), []byte("new"))
	p.Set([]byte("q/25"), []byte{})
	p.Set([]byte("q/0"), []byte("zero"))
	p.Delete([]byte("q/0"))
	got := collect(t, p, "q/")
	want := []kvPair{{"q/2", "new"}, {"q/25", ""}, {"q/3", "vq/3"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pending iterate = %v, want %v", got, want)
	}
	if v, err := p.Get([]byte("q/25")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %v %v", v, err)
	}
	if v, _ := p.Get([]byte("q/1")); v != nil {
		t.Fatalf("deleted key reads %q", v)
	}
	if got := collect(t, c, "q/"); len(got) != 3 || got[0].v != "vq/1" {
		t.Fatalf("committed iterate = %v", got)
	}
	// Stop early.
	n := 0
	p.Iterate([]byte("q/"), func(k, v []byte) bool { n++; return false })
	if n != 1 {
		t.Fatalf("iterate did not stop: %d calls", n)
	}
	// Discard drops everything pending.
	s.Discard()
	if got := collect(t, p, "q/"); len(got) != 3 || got[0].v != "vq/1" {
		t.Fatalf("after discard = %v", got)
	}
	// A commit at the wrong height is refused and drops nothing committed.
	p.Set([]byte("q/9"), []byte("x"))
	if err := s.CommitBlock(block(3), nil, nil, nil); err == nil {
		t.Fatal("commit of height 3 after 1 accepted")
	}
	if v, _ := p.Get([]byte("q/9")); v != nil {
		t.Fatal("a refused commit left its pending writes")
	}
	s.Close()

	s = open(t, dir)
	defer s.Close()
	if h, err := s.Height(); err != nil || h != 1 {
		t.Fatalf("height after reopen = %d, %v", h, err)
	}
	if r, err := s.Tx(bytes.Repeat([]byte{7}, 32)); err != nil || r.GetSeq() != 5 {
		t.Fatalf("tx record = %v, %v", r, err)
	}
	if b, err := s.Block(1); err != nil || b.GetAppHash()[0] != 1 {
		t.Fatalf("block 1 = %v, %v", b, err)
	}
	if b, err := s.Block(2); err != nil || b != nil {
		t.Fatalf("block 2 = %v, %v", b, err)
	}
}

func TestMempoolProposedHalt(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.AddMempoolBatch(300, [][]byte{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMempoolBatch(600, [][]byte{{2}, {3}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProposed(&chainpb.Block{Height: 1, Txs: [][]byte{{1}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHalt(&chainpb.Halt{Height: 4, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	m, err := s.Mempool()
	if err != nil || len(m) != 3 || m[0].Arrival != 300 || m[1].Arrival != 600 || m[2].Arrival != 601 || m[2].Tx[0] != 3 {
		t.Fatalf("mempool = %v, %v", m, err)
	}
	if b, _ := s.Proposed(); b.GetHeight() != 1 {
		t.Fatalf("proposed = %v", b)
	}
	if h, _ := s.Halt(); h.GetReason() != "r" {
		t.Fatalf("halt = %v", h)
	}
	if err := s.CommitBlock(block(1), nil, nil, []uint64{300, 601}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Mempool(); len(m) != 1 || m[0].Arrival != 600 {
		t.Fatalf("mempool after commit = %v", m)
	}
	if b, _ := s.Proposed(); b != nil {
		t.Fatalf("proposed after commit = %v", b)
	}
	s.ClearHalt()
	if h, _ := s.Halt(); h != nil {
		t.Fatalf("halt after clear = %v", h)
	}
}
