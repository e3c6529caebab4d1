package sagatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ErrTombstoned is the error of an action refused because its key was
// undone before the action arrived.
var ErrTombstoned = errors.New("sagatest: action refused: its key was compensated before it arrived")

// KeyStatus is what a [Participant] knows of one idempotency key.
type KeyStatus uint8

// Key statuses.
const (
	Unseen     KeyStatus = iota // neither done nor undone
	Done                        // the action took effect
	Undone                      // the action took effect and was undone
	Tombstoned                  // undone before the action arrived; the action is refused
)

var keyStatusNames = [...]string{"unseen", "done", "undone", "tombstoned"}

// String returns the status's name.
func (s KeyStatus) String() string {
	if int(s) < len(keyStatusNames) {
		return keyStatusNames[s]
	}
	return fmt.Sprintf("KeyStatus(%d)", uint8(s))
}

// Participant is an in-memory service that follows the participant
// pattern (see the package documentation): one effect per idempotency
// key, one undo per effect, a tombstone for an undo that comes first. It
// is safe for concurrent use; the zero Participant is ready to use.
type Participant struct {
	mu       sync.Mutex
	keys     map[string]*keyState
	problems []string
}

type keyState struct {
	status   KeyStatus
	does     int // calls of Do
	undos    int // calls of Undo
	inFlight int // calls of Do or Undo in progress (see Hold)
}

func (p *Participant) state(key string) *keyState {
	if p.keys == nil {
		p.keys = map[string]*keyState{}
	}
	k := p.keys[key]
	if k == nil {
		k = &keyState{}
		p.keys[key] = k
	}
	return k
}

// Do takes the effect of the action under key, once: a repeat is answered
// as done, and an action whose key was undone first fails with
// [ErrTombstoned]. An empty key is recorded as a problem (see Err): the
// step did not pass its idempotency key on.
func (p *Participant) Do(key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key == "" {
		p.problems = append(p.problems, "Do called without an idempotency key")
		return errors.New("sagatest: Do without an idempotency key")
	}
	k := p.state(key)
	k.does++
	switch k.status {
	case Tombstoned:
		return fmt.Errorf("%w: %s", ErrTombstoned, key)
	case Unseen:
		k.status = Done
	}
	return nil
}

// Undo undoes the effect of key, once; a repeat is answered as done. If
// the action has not arrived, Undo leaves a tombstone so that it is
// refused when it does.
func (p *Participant) Undo(key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key == "" {
		p.problems = append(p.problems, "Undo called without an idempotency key")
		return errors.New("sagatest: Undo without an idempotency key")
	}
	k := p.state(key)
	k.undos++
	switch k.status {
	case Unseen:
		k.status = Tombstoned
	case Done:
		k.status = Undone
	}
	return nil
}

// Hold marks a call for key as in progress until the returned func is
// called: a step or compensation that takes time wraps its call in it, so
// that two calls for one key at once (two drivers of one run) are
// recorded as a problem (see Err).
func (p *Participant) Hold(key string) (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.state(key)
	k.inFlight++
	if k.inFlight > 1 {
		p.problems = append(p.problems, fmt.Sprintf("%d calls for key %q at once", k.inFlight, key))
	}
	return func() {
		p.mu.Lock()
		k.inFlight--
		p.mu.Unlock()
	}
}

// Status returns what the participant knows of key.
func (p *Participant) Status(key string) KeyStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[key]; ok {
		return k.status
	}
	return Unseen
}

// Calls returns how many times Do and Undo were called with key.
func (p *Participant) Calls(key string) (does, undos int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[key]; ok {
		return k.does, k.undos
	}
	return 0, 0
}

// InEffect returns, sorted, the keys whose effect is in place (done, not
// undone) that start with prefix: a run ID followed by "/" selects one
// run's. A run that ended compensated must have none.
func (p *Participant) InEffect(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for key, k := range p.keys {
		if k.status == Done && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

// Err returns the problems seen so far, joined (nil if none): calls
// without a key, and calls for one key that overlapped (see Hold).
func (p *Participant) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) == 0 {
		return nil
	}
	return errors.New("sagatest: " + strings.Join(p.problems, "; "))
}
