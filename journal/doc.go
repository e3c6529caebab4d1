// Package journal defines how sagakit keeps run journals: the [Store]
// interface that durable stores implement, the records they keep, and an
// in-memory store. Package journal/sqlite is the embedded default;
// package journal/journaltest checks any Store against the contract.
//
// # Model
//
// A journaled run has a header ([Run]): its ID, the saga's name and
// fingerprint, its status, the latest snapshot of its state, its error,
// a pending operator [Request], and a lease naming the worker that drives
// it. Its journal is an append-only list of [Entry] values: the run
// started, a step started (with its execution number), a step succeeded
// (with a state snapshot, or [StateKept] when the step left the state as
// it was) or failed, compensations, the end, operator requests and
// notes.
//
// A worker appends before a step starts and after it ends; a step's end
// and the next step's start go in one [Store.Append], so a run costs one
// durable commit per step and one for its creation (which carries the
// first step's start). Leases make sure two workers never drive the
// same run: every Append names its owner and fails with [ErrLeaseLost]
// when the lease is another's. When a process dies, its leases expire and
// [Store.Claim] hands its unfinished runs to another worker.
//
// Operators (the sagactl CLI, or code) record requests with
// [Store.Request]: resume, retry a step, compensate, resolve, abandon.
// They run no user code; the next worker that claims the run carries the
// request out.
package journal
