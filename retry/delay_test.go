package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

const ms = time.Millisecond

func schedule(p retry.Policy, n int) []time.Duration {
	var out []time.Duration
	prev := time.Duration(0)
	for a := 1; a <= n; a++ {
		prev = p.Delay(a, prev, nil)
		out = append(out, prev)
	}
	return out
}

func TestDelayNoJitterSchedule(t *testing.T) {
	tests := []struct {
		name string
		p    retry.Policy
		want []time.Duration
	}{
		{"defaults", retry.Policy{}, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms}},
		{"multiplier 3", retry.Policy{InitialInterval: 10 * ms, Multiplier: 3}, []time.Duration{10 * ms, 30 * ms, 90 * ms, 270 * ms, 810 * ms}},
		{"capped", retry.Policy{InitialInterval: time.Second, MaxInterval: 3 * time.Second}, []time.Duration{1000 * ms, 2000 * ms, 3000 * ms, 3000 * ms, 3000 * ms}},
		{"multiplier below 1 is constant", retry.Policy{InitialInterval: 50 * ms, Multiplier: 0.5}, []time.Duration{50 * ms, 50 * ms, 50 * ms, 50 * ms, 50 * ms}},
		{"NaN multiplier is 2", retry.Policy{InitialInterval: 50 * ms, Multiplier: math.NaN()}, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms}},
		{"+Inf multiplier jumps to cap", retry.Policy{InitialInterval: 50 * ms, Multiplier: math.Inf(1)}, []time.Duration{50 * ms, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"negative interval never waits", retry.Policy{InitialInterval: -1}, []time.Duration{0, 0, 0, 0, 0}},
		{"initial above cap", retry.Policy{InitialInterval: time.Hour, MaxInterval: time.Second}, []time.Duration{1000 * ms, 1000 * ms, 1000 * ms, 1000 * ms, 1000 * ms}},
		{"negative cap is default", retry.Policy{InitialInterval: 20 * time.Second, MaxInterval: -1}, []time.Duration{20 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, schedule(tt.p, 5)); diff != "" {
				t.Errorf("schedule (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDelayHugeAttemptDoesNotOverflow(t *testing.T) {
	is := is.New(t)
	p := retry.Policy{MaxInterval: math.MaxInt64}
	is.Equal(p.Delay(1_000_000, 0, nil), time.Duration(math.MaxInt64))
	is.Equal(p.Delay(0, 0, nil), retry.DefaultInitialInterval) // attempt below 1 reads as 1
	is.Equal(p.Delay(-5, 0, nil), retry.DefaultInitialInterval)
}

func TestDelayDeterministicWithSeed(t *testing.T) {
	p := retry.Policy{MaxAttempts: 3, Jitter: retry.FullJitter}
	a := rand.New(rand.NewPCG(1, 2))
	b := rand.New(rand.NewPCG(1, 2))
	for i := 1; i < 20; i++ {
		if da, db := p.Delay(i, 0, a), p.Delay(i, 0, b); da != db {
			t.Fatalf("attempt %d: %v != %v", i, da, db)
		}
	}
}

func TestDelayResumesSchedule(t *testing.T) {
	is := is.New(t)
	// A runner that persisted "attempt 4 failed" computes the same wait as
	// an uninterrupted run.
	p := retry.Policy{InitialInterval: 10 * ms}
	is.Equal(p.Delay(4, 0, nil), schedule(p, 4)[3])
}
