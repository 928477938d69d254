package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"swingsetd.dev/chain/blockstore"
	"swingsetd.dev/chain/swingset"
	"swingsetd.dev/chain/swingset/swingsettest"
	chainpb "swingsetd.dev/gen/swingchainv1"
)

// The real keeper over the blockstore, each node with an in-process fake sidecar
// (swingsettest): actions consumed two per block, results that settle a block later, then a
// tampered sidecar halting the chain.
func TestKeeperOverFakeSidecars(t *testing.T) {
	tn := newTestNet(t, 3)
	sidecars := make([]*swingsettest.FakeSidecar, 3)
	for i, tnode := range tn.nodes {
		tnode := tnode
		sc, err := swingsettest.NewFakeSidecar()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sc.Stop)
		sc.Lock()
		sc.ConsumeLimit = 2
		sc.Unlock()
		sidecars[i] = sc
		tnode.mk = func(store *blockstore.Store) (App, Queries, func()) {
			kcfg := swingset.Config{Sidecar: sc.Addr(), RetryInitial: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
			k, err := swingset.NewKeeper(store.Pending(), kcfg)
			if err != nil {
				t.Fatal(err)
			}
			q, err := swingset.NewKeeper(store.Committed(), kcfg)
			if err != nil {
				t.Fatal(err)
			}
			return k, q, func() { k.Close(); q.Close() }
		}
		tn.start(i)
	}
	ctx := context.Background()
	var ids []string
	for i := 0; i < 9; i++ {
		method := "increment"
		if i == 4 {
			method = "later"
		}
		ids = append(ids, submit(t, tn.nodes[i%3], callVat("counter", method, fmt.Sprintf("[%d]", i), uint64(i))))
	}
	sawUnsettled := false
	for _, tnode := range tn.nodes {
		for i, id := range ids {
			var r *chainpb.GetTxResponse
			waitFor(t, tnode.id+" settles tx "+fmt.Sprint(i), 20*time.Second, func() bool {
				var err error
				r, err = tnode.client.GetTx(ctx, &chainpb.GetTxRequest{TxId: id})
				if err == nil && r.Result != nil && r.Settled == nil {
					sawUnsettled = true
				}
				return err == nil && r.Settled != nil
			})
			if r.Result.Id != r.Seq || r.Result.ResultKpid != r.Settled.Kpid || r.Settled.State != "fulfilled" {
				t.Fatalf("%s: tx %d: %v", tnode.id, i, r)
			}
		}
	}
	if !sawUnsettled {
		t.Log("no tx was seen consumed but unsettled (timing); the later method settles a block after")
	}
	// Two actions per block: the nine txs took at least five blocks after their own.
	r, _ := tn.nodes[0].client.GetTx(ctx, &chainpb.GetTxRequest{TxId: ids[8]})
	if top := tn.nodes[0].n.Height(); top < r.Height {
		t.Fatalf("height %d below the last tx's block %d", top, r.Height)
	}

	// val2's sidecar computes other state hashes from now on: the chain halts naming it.
	sidecars[2].Lock()
	sidecars[2].Salt = "tampered"
	sidecars[2].Unlock()
	submit(t, tn.nodes[0], callVat("counter", "increment", "[1]", 100))
	for _, tnode := range tn.nodes {
		tnode := tnode
		waitFor(t, tnode.id+" halted", 20*time.Second, func() bool {
			h := tnode.n.Halted()
			return h != nil && strings.Contains(h.Reason, "val2 has") && strings.Contains(h.Reason, fmt.Sprintf("at height %d", h.Height))
		})
	}
}
