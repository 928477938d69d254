// Package swingset is the keeper a Cosmos-style Go app embeds to drive a swingsetd sidecar
// (docs/DESIGN.md §2 and §9): it takes a small KV store for its own state and exposes hooks in
// ABCI order, InitChain, BeginBlock, DeliverTx, EndBlock and Commit.
//
// DeliverTx validates an action (call_vat or deliver_inbound) without state and appends it to a
// persistent queue in the store. EndBlock hands a deterministic prefix of the queue to the
// sidecar, deletes the prefix the sidecar consumed, and stores the block's hashes, the action
// results, the settled host results and the changed outbound mailboxes in the store, where the
// query methods (LastBlock, Result, Settled, Mailbox) read them. The app commits its own store
// after Commit returns.
//
// Crash rules (from the Go side): after any crash the app re-drives from its own last committed
// height; when the sidecar had already committed that height it replays the stored response byte
// for byte. While the sidecar is down or restarting, calls are retried with backoff (never
// skipping a height), and the block in progress is re-driven on the restarted sidecar.
// Anything else the sidecar refuses (FAILED_PRECONDITION, ABORTED, INTERNAL, DATA_LOSS, a
// response that differs on re-drive) is a *HaltError naming the height: the node must stop.
//
// The keeper knows nothing about block ordering or consensus; the app (a Cosmos app, or
// swingchain) decides the blocks.
package swingset
