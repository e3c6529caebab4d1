# sagakit — make targets. `make test` is the test command; `make example`
# runs the main example; `make fuzz` runs each fuzz target briefly (`make
# test` includes it); `make mutate` (slow, not part of `make test`) runs
# mutation testing over the core packages (see RELIABILITY.md).

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
COUNT       ?= 5
BENCHTIME   ?= 1s
OUT         ?= bench/out/raw.txt
GREMLINS    ?= github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_PKGS ?= saga retry builder state parallel internal/graph
MUTATE_ARGS ?= --workers 2 --timeout-coefficient 10

.PHONY: test lint bench example fmt mutate fuzz chaos

# otelsaga is a nested module (OpenTelemetry stays out of the core's
# dependencies): its tests run with the core's. bench's are benchmarks.
test:
	$(GO) test -race ./...
	cd otelsaga && $(GO) test -race ./...
	$(MAKE) fuzz

# Each fuzz target for a number of inputs (a few seconds each in `make
# test`; more by hand: make fuzz FUZZX=100). The budget is a count, not a
# duration: Go 1.26's coordinator can fail a duration-bound run with
# "context deadline exceeded" when the time is up (go.dev/issue/75804).
# Seed corpora (testdata/fuzz) also run as plain tests; a failure writes
# its input there: commit it with the fix. Target: package:name:inputs.
FUZZX       ?= 1
FUZZ_TARGETS = journal/sqlite:FuzzOpenCorrupt:200 journal/sqlite:FuzzCorruptRows:200 \
	durable:FuzzRecoverJournal:2000 builder:FuzzCompile:20000 cmd/sagactl:FuzzArgs:500 \
	state:FuzzJSONRoundTrip:20000 state:FuzzForkMerge:20000

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; n=$$(( $${rest#*:} * $(FUZZX) )); \
		echo "== $$name ($$pkg, $$n inputs)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $${n}x ./$$pkg; \
	done

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	cd otelsaga && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

# sagakit beside its baselines, each pair measured in the same run, one
# package at a time (-p 1), each benchmark COUNT times: one table of
# medians and ratios (bench/cmd/benchtable; BENCHMARKS.md explains it),
# go test's output in OUT (benchstat reads it), the throughput plot in
# docs/bench-throughput.svg. PostgreSQL rows need SAGAKIT_POSTGRES_DSN.
# About 10 minutes at the defaults.
bench:
	cd bench && $(GO) run ./cmd/benchtable -go $(GO) -count $(COUNT) -benchtime $(BENCHTIME) \
		-out $(abspath $(OUT)) -svg $(abspath docs/bench-throughput.svg)

# The chaos campaign at full size (see RELIABILITY.md): CHAOS_RUNS runs on
# SQLite, then as many on PostgreSQL (a cluster of its own, started from
# /usr/lib/postgresql/*/bin, restarted on the way; without those binaries,
# the server of SAGAKIT_POSTGRES_DSN, not restarted), worker processes
# killed, frozen and disk-faulted,
# the database restarted, operators racing. SAGAKIT_CHAOS_SEED replays a
# campaign. `make test` runs a short one.
CHAOS_RUNS ?= 5000

chaos:
	SAGAKIT_CHAOS_RUNS=$(CHAOS_RUNS) $(GO) test -count=1 -timeout 40m -run '^TestChaos$$' -v ./internal/crashtest/

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
