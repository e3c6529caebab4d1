package retry

import (
	"context"
	"time"
)

// Do calls fn until it succeeds or p says to stop, waiting between
// attempts as p schedules, and returns nil on success or an [*Error]
// saying why it gave up. See the package documentation for the rules.
//
// fn receives a context derived from ctx that ends with ctx, or after
// [Policy.AttemptTimeout] when that is set; [Attempt] reads the attempt
// number from it. If ctx has already ended, fn is not called at all.
// Do panics if ctx or fn is nil.
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	return do(ctx, &p, fn)
}

// DoValue is [Do] for a function that returns a value: it returns the
// value of the first successful attempt, or the zero T and an [*Error].
func DoValue[T any](ctx context.Context, p Policy, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := do(ctx, &p, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Wrap returns a function that runs fn under p with [Do] each time it is
// called: it decorates a saga action or compensation with retries.
// S is the saga state type. Every attempt receives the same *S, so fn
// should leave the state as it found it when it fails. Wrap panics if fn
// is nil.
func Wrap[S any](p Policy, fn func(context.Context, *S) error) func(context.Context, *S) error {
	if fn == nil {
		panic("retry: Wrap of nil function")
	}
	return func(ctx context.Context, s *S) error {
		return do(ctx, &p, func(ctx context.Context) error { return fn(ctx, s) })
	}
}

// ctxBatch is the most attempt contexts do allocates at once.
const ctxBatch = 8

// do is the retry loop. It allocates nothing until an attempt fails; then
// it allocates the attempt contexts of up to ctxBatch retries at a time,
// and, when ctx can be cancelled, one timer for all its waits (a context
// that cannot end waits with time.Sleep).
func do(ctx context.Context, p *Policy, fn func(context.Context) error) error {
	if ctx == nil || fn == nil {
		panic("retry: nil Context or function")
	}
	start := p.now()
	if ctx.Err() != nil {
		return p.giveUp(ctx, Canceled, 0, start, nil, nil)
	}
	limit := p.maxAttempts()
	var (
		ctxs []attemptCtx // attempt contexts allocated ahead
		s    sleeper
		prev time.Duration // the previous Delay, for DecorrelatedJitter
	)
	for attempt := 1; ; attempt++ {
		actx := ctx
		if attempt > 1 || hasAttempt(ctx) {
			if len(ctxs) == 0 {
				n := ctxBatch
				if limit > 0 {
					n = min(n, limit-attempt+1)
				}
				ctxs = make([]attemptCtx, n)
			}
			ac := &ctxs[0]
			ctxs = ctxs[1:]
			ac.Context, ac.n = ctx, attempt
			actx = ac
		}

		err, timedOut := p.run(actx, fn)
		if err == nil {
			return nil
		}
		p.Hooks.attemptFailed(ctx, attempt, err)

		// Decide whether to retry.
		if ctx.Err() != nil {
			return p.giveUp(ctx, Canceled, attempt, start, err, nil)
		}
		switch mark(err) {
		case markedPermanent:
			return p.giveUp(ctx, Unretryable, attempt, start, err, nil)
		case unmarked:
			if !timedOut && p.Classify != nil && !p.Classify(err) {
				return p.giveUp(ctx, Unretryable, attempt, start, err, nil)
			}
		}
		if limit > 0 && attempt >= limit {
			return p.giveUp(ctx, Exhausted, attempt, start, err, nil)
		}

		// Decide how long to wait.
		d := p.Delay(attempt, prev, p.Rand)
		prev = d
		if ra := retryAfter(err); ra > d {
			d = min(ra, p.maxInterval())
		}
		if p.MaxElapsed > 0 {
			left := p.MaxElapsed - p.since(start)
			if left <= 0 {
				return p.giveUp(ctx, Deadline, attempt, start, err, nil)
			}
			d = min(d, left)
		}
		p.Hooks.retryScheduled(ctx, attempt, err, d)

		// Wait.
		if d > 0 {
			var werr error
			if p.Clock != nil {
				werr = p.Clock.Sleep(ctx, d)
			} else {
				werr = s.sleep(ctx, d)
			}
			if werr != nil || ctx.Err() != nil {
				return p.giveUp(ctx, Canceled, attempt, start, err, werr)
			}
		} else if ctx.Err() != nil {
			return p.giveUp(ctx, Canceled, attempt, start, err, nil)
		}
	}
}

// run makes one attempt, under AttemptTimeout if set. timedOut reports
// whether the attempt's own timeout expired.
func (p *Policy) run(ctx context.Context, fn func(context.Context) error) (err error, timedOut bool) {
	if p.AttemptTimeout <= 0 {
		return fn(ctx), false
	}
	actx, cancel := context.WithTimeout(ctx, p.AttemptTimeout)
	defer cancel()
	err = fn(actx)
	return err, actx.Err() != nil && ctx.Err() == nil
}

// giveUp builds the Error for reason, reports it to OnGaveUp and returns it.
// For Canceled, the context's cause (or, failing that, cause) becomes
// Error.Context.
func (p *Policy) giveUp(ctx context.Context, reason Reason, attempts int, start time.Time, last, cause error) error {
	e := &Error{
		Reason:   reason,
		Attempts: attempts,
		Elapsed:  p.since(start),
		Last:     last,
	}
	if reason == Canceled {
		if ctx.Err() != nil {
			cause = context.Cause(ctx)
		}
		e.Context = cause
	}
	p.Hooks.gaveUp(ctx, e)
	return e
}

// epoch anchors the real clock's readings: epoch plus the monotonic time
// since it costs one clock reading where time.Now costs two.
var epoch = time.Now()

func (p *Policy) now() time.Time {
	if p.Clock != nil {
		return p.Clock.Now()
	}
	return epoch.Add(time.Since(epoch))
}

func (p *Policy) since(start time.Time) time.Duration {
	return p.now().Sub(start)
}
