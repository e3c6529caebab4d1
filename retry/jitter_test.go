package retry_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/retry"
)

func TestDelayJitterBounds(t *testing.T) {
	const (
		init    = 100 * ms
		maxWait = 5 * time.Second
	)
	base := func(attempt int) time.Duration { // NoJitter schedule, multiplier 2
		return min(init<<(attempt-1), maxWait)
	}
	tests := []struct {
		jitter retry.Jitter
		factor float64
		lo, hi func(attempt int, prev time.Duration) time.Duration
	}{
		{retry.NoJitter, 0,
			func(a int, _ time.Duration) time.Duration { return base(a) },
			func(a int, _ time.Duration) time.Duration { return base(a) }},
		{retry.FullJitter, 0,
			func(int, time.Duration) time.Duration { return 0 },
			func(a int, _ time.Duration) time.Duration { return base(a) }},
		{retry.EqualJitter, 0,
			func(a int, _ time.Duration) time.Duration { return base(a) / 2 },
			func(a int, _ time.Duration) time.Duration { return base(a) }},
		{retry.DecorrelatedJitter, 0,
			func(int, time.Duration) time.Duration { return init },
			func(_ int, prev time.Duration) time.Duration { return min(3*max(prev, init), maxWait) }},
		{retry.FactorJitter, 0, // default factor 0.5
			func(a int, _ time.Duration) time.Duration { return base(a) / 2 },
			func(a int, _ time.Duration) time.Duration { return min(base(a)*3/2, maxWait) }},
		{retry.FactorJitter, 0.1,
			func(a int, _ time.Duration) time.Duration { return base(a) * 9 / 10 },
			func(a int, _ time.Duration) time.Duration { return min(base(a)*11/10, maxWait) }},
		{retry.FactorJitter, -3, // nonsense: default 0.5
			func(a int, _ time.Duration) time.Duration { return base(a) / 2 },
			func(a int, _ time.Duration) time.Duration { return min(base(a)*3/2, maxWait) }},
		{retry.FactorJitter, 7, // above 1: 1
			func(int, time.Duration) time.Duration { return 0 },
			func(a int, _ time.Duration) time.Duration { return min(base(a)*2, maxWait) }},
	}
	for _, tt := range tests {
		t.Run(tt.jitter.String(), func(t *testing.T) {
			p := retry.Policy{InitialInterval: init, MaxInterval: maxWait, Jitter: tt.jitter, JitterFactor: tt.factor}
			r := rand.New(rand.NewPCG(1, 2))
			seen := map[time.Duration]bool{}
			for range 200 {
				prev := time.Duration(0)
				for a := 1; a <= 10; a++ {
					d := p.Delay(a, prev, r)
					if lo, hi := tt.lo(a, prev), tt.hi(a, prev); d < lo || d > hi {
						t.Fatalf("Delay(%d, %v) = %v, want in [%v, %v]", a, prev, d, lo, hi)
					}
					seen[d] = true
					prev = d
				}
			}
			if tt.jitter != retry.NoJitter && len(seen) < 100 {
				t.Errorf("only %d distinct delays: not random", len(seen))
			}
		})
	}
}

func TestDelayCapAfterJitter(t *testing.T) {
	is := is.New(t)
	p := retry.Policy{InitialInterval: time.Second, MaxInterval: time.Second, Jitter: retry.FactorJitter}
	r := rand.New(rand.NewPCG(1, 2))
	capped := 0
	for range 1000 {
		d := p.Delay(5, 0, r)
		is.True(d >= 500*ms && d <= time.Second)
		if d == time.Second {
			capped++
		}
	}
	is.True(capped > 400 && capped < 600) // the upper half of the spread is cut

	p.Jitter = retry.DecorrelatedJitter
	for range 100 {
		is.True(p.Delay(5, time.Hour, r) <= time.Second)
	}
}

func TestJitterString(t *testing.T) {
	is := is.New(t)
	is.Equal(retry.NoJitter.String(), "NoJitter")
	is.Equal(retry.FullJitter.String(), "FullJitter")
	is.Equal(retry.EqualJitter.String(), "EqualJitter")
	is.Equal(retry.DecorrelatedJitter.String(), "DecorrelatedJitter")
	is.Equal(retry.FactorJitter.String(), "FactorJitter")
	is.Equal(retry.Jitter(42).String(), "Jitter(42)")
}
