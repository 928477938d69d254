package swingset_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"swingsetd.dev/chain/swingset"
	"swingsetd.dev/chain/swingset/swingsettest"
)

// The keeper's own cost per block of n call_vat actions (DeliverTx, EndBlock, Commit, the
// store's commit) over the in-process fake sidecar, whose work is a SHA-256 per action.
func benchKeeper(b *testing.B, n int, k *swingset.Keeper, store *swingsettest.MemStore, h *int64) {
	c := context.Background()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		*h++
		if err := k.BeginBlock(c, *h, time.Unix(1700000000+*h, 0)); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < n; j++ {
			if _, err := k.DeliverTx(c, call("counter", "increment", fmt.Sprintf("[%d]", j))); err != nil {
				b.Fatal(err)
			}
		}
		r, err := k.EndBlock(c)
		if err != nil || len(r.Results) != n {
			b.Fatalf("%v %v", err, r)
		}
		if err := k.Commit(c); err != nil {
			b.Fatal(err)
		}
		store.Commit()
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "actions/s")
}

func BenchmarkKeeperFakeSidecar1000(b *testing.B) {
	fake, err := swingsettest.NewFakeSidecar()
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Stop()
	store := swingsettest.NewMemStore()
	k, err := swingset.NewKeeper(store, swingset.Config{Sidecar: fake.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	if _, err := k.InitChain(context.Background(), fakeGenesis); err != nil {
		b.Fatal(err)
	}
	var h int64
	benchKeeper(b, 1000, k, store, &h)
}

// The same through the real sidecar and the demo counter vat (JavaScript): from DeliverTx to
// the committed result, one keeper and one sidecar.
func BenchmarkKeeperRealSidecar1000(b *testing.B) {
	sc := startSidecar(b, b.TempDir(), false)
	n := newNode(b, sc, demoGenesis(b))
	n.run(true)
	h, _ := n.k.Height()
	b.ResetTimer()
	benchKeeper(b, 1000, n.k, n.store, &h)
}
