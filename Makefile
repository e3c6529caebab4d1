# sagakit — make targets. `make test` is the test command; `make example`
# runs the main example.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCH       ?= .
BENCHTIME   ?= 1s

.PHONY: test lint bench example fmt

# otelsaga is a nested module (OpenTelemetry stays out of the core's
# dependencies): its tests run with the core's. bench's are benchmarks.
test:
	$(GO) test -race ./...
	cd otelsaga && $(GO) test -race ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	cd otelsaga && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...
	cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...
	cd otelsaga && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...

example:
	$(GO) run ./examples/order

fmt:
	gofmt -w $$(git ls-files '*.go')
