package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/matryer/is"

	"github.com/sagakit/sagakit/journal/postgres"
)

const secret = "s3cr3t-Pa55"

// noSecret fails the test if err is nil or shows the password.
func noSecret(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, secret) || strings.Contains(msg, "s3cr3t") {
		t.Fatalf("the error shows the password: %s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Fatalf("error %q does not say %q", msg, w)
		}
	}
}

// TestUnreachable: no server on the port: Open fails at once, naming the
// DSN without its password.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:1/test?sslmode=disable",
		"host=127.0.0.1 port=1 user=postgres password=" + secret + " dbname=test sslmode=disable",
		"host=127.0.0.1 port=1 user=postgres password='" + secret + "' dbname=test sslmode=disable",
	} {
		start := time.Now()
		_, err := postgres.Open(t.Context(), dsn)
		noSecret(t, err, "127.0.0.1", "xxxxx", "connect")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Open took %v to fail", d)
		}
		t.Log(err)
	}
}

// TestSilentServer: a server that accepts connections and never answers
// does not make Open hang: it fails after the connect timeout.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // hold it, say nothing
		}
	}()
	dsn := "postgres://postgres:" + secret + "@" + ln.Addr().String() + "/test?sslmode=disable"
	for _, opts := range [][]postgres.Option{
		{postgres.WithConnectTimeout(300 * time.Millisecond)},
		nil, // the DSN's connect_timeout
	} {
		d := dsn
		if opts == nil {
			d += "&connect_timeout=1"
		}
		start := time.Now()
		_, err := postgres.Open(t.Context(), d, opts...)
		noSecret(t, err, ln.Addr().String())
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("Open took %v to fail", took)
		}
		t.Log(err)
	}

	// Open's context bounds it too.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = postgres.Open(ctx, dsn)
	noSecret(t, err)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Open took %v to fail", took)
	}
}

// TestWrongPassword: a server that refuses the password (a stand-in
// speaking the protocol: the test server trusts everyone) makes Open fail
// with the server's word, naming the DSN without the password.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go refusePassword(c)
		}
	}()
	dsn := "postgres://alice:" + secret + "@" + ln.Addr().String() + "/test?sslmode=disable"
	_, err = postgres.Open(t.Context(), dsn)
	noSecret(t, err, "password authentication failed", "alice:xxxxx@"+ln.Addr().String())
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("error %v does not wrap the server's 28P01", err)
	}
	t.Log(err)
}

// refusePassword plays a server that asks for a password and refuses it.
func refusePassword(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := be.Flush(); err != nil {
		return
	}
	if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return
	}
	if _, err := be.Receive(); err != nil {
		return
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01",
		Message: `password authentication failed for user "alice"`})
	_ = be.Flush()
}

// TestBadDSN: a DSN pgx cannot parse is refused without showing the
// password it holds.
func TestBadDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:notaport/test",
		"postgres://postgres:" + secret + "@127.0.0.1/test?sslmode=nonsense",
		"host=127.0.0.1 password=" + secret + " sslmode=nonsense",
		"host=127.0.0.1 password='" + secret,
	} {
		_, err := postgres.Open(t.Context(), dsn)
		noSecret(t, err, "postgres:")
		t.Log(err)
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db?sslmode=disable":           "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgresql://u@h/db":                                 "postgresql://u@h/db",
		"postgres://u@h/db?password=pw&sslpassword=x":         "postgres://u@h/db?password=xxxxx&sslpassword=xxxxx",
		"host=h user=u password=pw dbname=db":                 "host=h user=u password=xxxxx dbname=db",
		"host=h password = 'p w' dbname=db":                   "host=h password = xxxxx dbname=db",
		"postgres://u:p%40w@h/db":                             "postgres://u:xxxxx@h/db",
		"postgres://u:" + secret + "@h:bad/db":                "(a postgres:// URL that does not parse; not shown)",
		"host=h user=u dbname=db":                             "host=h user=u dbname=db",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=off": "postgres://postgres@127.0.0.1:5432/test?sslmode=off",
	} {
		is.Equal(postgres.RedactDSN(in), want)
	}
	err := postgres.Scrub(errors.New("failed for postgres://u:p@w0rd@h/db and p@w0rd"), "postgres://u:p@w0rd@h/db")
	is.Equal(err.Error(), "failed for postgres://u:xxxxx@h/db and xxxxx")
}

// TestMissingPrivilege: a role that may not create the schema gets an
// error saying so, naming the DSN without its password.
func TestMissingPrivilege(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "sagakit_noprivs_" + hex.EncodeToString(b)
	p := sharedPool(t)
	if _, err := p.Exec(t.Context(), "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+secret+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = p.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	roleDSN := strings.Replace(dsn, "postgres://"+userinfo(dsn)+"@", "postgres://"+role+":"+secret+"@", 1)
	if !strings.Contains(roleDSN, role) {
		t.Skipf("cannot put a role into DSN %s", postgres.RedactDSN(dsn))
	}
	_, err := postgres.Open(t.Context(), roleDSN, postgres.WithSchema(newSchema(t)))
	noSecret(t, err, "permission denied", role)
	t.Log(err)
}

// userinfo returns the user (and password) part of a postgres:// DSN.
func userinfo(dsn string) string {
	rest, ok := strings.CutPrefix(dsn, "postgres://")
	if !ok {
		return ""
	}
	if at := strings.Index(rest, "@"); at >= 0 {
		return rest[:at]
	}
	return ""
}
