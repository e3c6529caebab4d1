package postgres

import (
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/sagakit/sagakit/journal"
)

// Input errors.
var (
	errEmptyID    = errors.New("postgres: empty run ID")
	errEmptyOwner = errors.New("postgres: empty lease owner")
	errEmptyVerb  = errors.New("postgres: request without a verb")
	errBadTTL     = errors.New("postgres: lease duration must be positive")
)

// expected reports whether err is an answer of the journal contract,
// which an op gives after writing nothing: the rest of its batch commits.
func expected(err error) bool {
	return errors.Is(err, journal.ErrNotFound) || errors.Is(err, journal.ErrExists) ||
		errors.Is(err, journal.ErrLeaseLost) || errors.Is(err, journal.ErrFinal) ||
		errors.Is(err, journal.ErrPending)
}

// Passwords never leave the store: errors name the server by its DSN
// with the password masked, and an error from below (pgx, the network)
// has every password the DSN holds masked too, however it came to quote
// it.

const mask = "xxxxx"

// kvPassword matches a password in a keyword/value DSN or a URL's query:
// a quoted value (with \' escapes), a plain one, or sslpassword's.
var kvPassword = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.|'')*'|[^\s&]*)`)

// redactDSN returns dsn with its passwords masked, for error messages.
func redactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// Too broken to tell the password from the rest.
			return "(a postgres:// URL that does not parse; not shown)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), mask)
		}
		s := u.String()
		if u.RawQuery != "" {
			s = strings.Replace(s, "?"+u.RawQuery, "?"+kvPassword.ReplaceAllString(u.RawQuery, "${1}"+mask), 1)
		}
		return s
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+mask)
}

// secrets returns the passwords dsn may hold, as they appear in it and
// decoded, for scrubbing error messages. It errs on the side of finding
// too much: a wrong guess only masks some text (and a one-letter password
// garbles the message rather than show up in it).
func secrets(dsn string, known ...string) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != mask {
			out = append(out, s)
		}
	}
	for _, s := range known {
		add(s)
	}
	if rest, ok := strings.CutPrefix(dsn, "postgres://"); ok || strings.HasPrefix(dsn, "postgresql://") {
		if !ok {
			rest = strings.TrimPrefix(dsn, "postgresql://")
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			userinfo := rest[:at]
			if _, pw, ok := strings.Cut(userinfo, ":"); ok {
				add(pw)
				if dec, err := url.PathUnescape(pw); err == nil {
					add(dec)
				}
			}
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[2]
		add(v)
		add(strings.Trim(v, "'"))
		if dec, err := url.QueryUnescape(v); err == nil {
			add(dec)
		}
	}
	return out
}

// scrubbed is an error whose message has secrets masked. It unwraps to
// the original error, for errors.Is and errors.As.
type scrubbed struct {
	err     error
	secrets []string
}

func (e *scrubbed) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, mask)
	}
	return msg
}

func (e *scrubbed) Unwrap() error { return e.err }

// scrub masks secrets in err's message; nil stays nil.
func scrub(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &scrubbed{err: err, secrets: secrets}
}
