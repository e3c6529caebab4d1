//go:build unix

package crashtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// ledger stands for the outside world the saga's steps change: an
// append-only file of effects, each line written in one write(2) and
// synced before the step goes on, so that it survives a SIGKILL that
// comes right after. Its lines are
//
//	call <run> <step> <key>   an action was called with that idempotency key
//	                          (alone: the call failed without effect)
//	do   <run> <step> <key>   the action took effect
//	undo <run> <step>         a compensation undid the effect
//
// Like a participant that remembers idempotency keys, it takes an
// idempotent step's effect once per key; a compensation undoes an effect
// once, and finds nothing to undo when the action never took effect.
// A ledger is safe for concurrent use by one process at a time.
type ledger struct {
	mu      sync.Mutex
	f       *os.File
	keys    map[string]bool      // keys whose effect was taken
	effects map[runStep]*effects // by run and step
}

// runStep names one step of one run.
type runStep struct{ run, step string }

// effects is what the ledger holds of one step of one run.
type effects struct {
	calls []string // the idempotency key of each call of the action
	dos   int      // effects taken
	undos int      // effects undone
}

// openLedger opens the ledger at path, creating it if needed, and reads
// what earlier processes wrote into it.
func openLedger(path string) (*ledger, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &ledger{f: f, keys: map[string]bool{}, effects: map[runStep]*effects{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if err := l.apply(sc.Text()); err != nil {
			f.Close()
			return nil, fmt.Errorf("ledger %s: %w", path, err)
		}
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// apply takes one line into the in-memory view.
func (l *ledger) apply(line string) error {
	f := strings.Fields(line)
	if len(f) < 3 {
		return fmt.Errorf("bad line %q", line)
	}
	rs := runStep{f[1], f[2]}
	e := l.effects[rs]
	if e == nil {
		e = &effects{}
		l.effects[rs] = e
	}
	switch {
	case f[0] == "call" && len(f) == 4:
		e.calls = append(e.calls, f[3])
	case f[0] == "do" && len(f) == 4:
		e.dos++
		l.keys[f[3]] = true
	case f[0] == "undo" && len(f) == 3:
		e.undos++
	default:
		return fmt.Errorf("bad line %q", line)
	}
	return nil
}

// write appends a line and syncs it. The caller holds l.mu.
func (l *ledger) write(fields ...string) error {
	line := strings.Join(fields, " ")
	if _, err := l.f.WriteString(line + "\n"); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	return l.apply(line)
}

// act is an action's call: it records the call, then takes the effect,
// unless the step is idempotent and the key's effect was taken already.
func (l *ledger) act(run, step, key string, idempotent bool) error {
	if run == "" || key == "" {
		return errors.New("ledger: an action without run ID or idempotency key")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.write("call", run, step, key); err != nil {
		return err
	}
	if idempotent && l.keys[key] {
		return nil
	}
	return l.write("do", run, step, key)
}

// refuse is an action's call that fails without taking effect: it
// records the call only.
func (l *ledger) refuse(run, step, key string) error {
	if run == "" || key == "" {
		return errors.New("ledger: an action without run ID or idempotency key")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write("call", run, step, key)
}

// undo is a compensation: it undoes the step's effect if it was taken and
// not undone yet.
func (l *ledger) undo(run, step string) error {
	if run == "" {
		return errors.New("ledger: a compensation without run ID")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.effects[runStep{run, step}]
	if e == nil || e.dos == 0 || e.undos >= e.dos {
		return nil
	}
	return l.write("undo", run, step)
}

// of returns what the ledger holds of a step of a run (zero if nothing).
func (l *ledger) of(run, step string) effects {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.effects[runStep{run, step}]; e != nil {
		return effects{calls: append([]string(nil), e.calls...), dos: e.dos, undos: e.undos}
	}
	return effects{}
}

// touched reports whether anything was recorded for run.
func (l *ledger) touched(run string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for rs := range l.effects {
		if rs.run == run {
			return true
		}
	}
	return false
}

func (l *ledger) Close() error { return l.f.Close() }
