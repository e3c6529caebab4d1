module github.com/sagakit/sagakit

go 1.26.0

require (
	github.com/google/go-cmp v0.7.0
	github.com/matryer/is v1.4.1
)

require golang.org/x/sync v0.24.0
