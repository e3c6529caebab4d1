// Package bench compares the overhead of sagakit's retry package with
// github.com/cenkalti/backoff/v5 and github.com/failsafe-go/failsafe-go
// doing the same work. It is a separate module so that the root module
// does not depend on either.
//
// Run from this directory:
//
//	go test -run '^$' -bench . -benchmem
package bench
