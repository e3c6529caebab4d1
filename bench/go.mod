module github.com/sagakit/sagakit/bench

go 1.26.0

replace github.com/sagakit/sagakit => ../

require (
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/failsafe-go/failsafe-go v0.9.8
	github.com/sagakit/sagakit v0.0.0-00010101000000-000000000000
)

require github.com/bits-and-blooms/bitset v1.24.4 // indirect
