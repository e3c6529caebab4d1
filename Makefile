# sagakit — make targets. `make test` is the test command; `make example`
# runs the main example; `make mutate` (slow, not part of `make test`) runs
# mutation testing over the core packages (see RELIABILITY.md).

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCH       ?= .
BENCHTIME   ?= 1s
GREMLINS    ?= github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_PKGS ?= saga retry builder state parallel internal/graph
MUTATE_ARGS ?= --workers 2 --timeout-coefficient 10

.PHONY: test lint bench example fmt mutate

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

# Mutation testing with gremlins, one package at a time: each mutant runs
# that package's tests (no -race), with a timeout of 10x the uncached
# coverage run (-count=1 keeps the measure honest). It prints each mutant's
# fate and the efficacy, killed / (killed + lived); timed-out mutants count
# apart. Override MUTATE_PKGS to pick packages.
mutate:
	@set -e; for p in $(MUTATE_PKGS); do \
		echo "== $$p"; \
		GOFLAGS=-count=1 $(GO) run $(GREMLINS) unleash $(MUTATE_ARGS) ./$$p; \
	done

example:
	$(GO) run ./examples/order

fmt:
	gofmt -w $$(git ls-files '*.go')
