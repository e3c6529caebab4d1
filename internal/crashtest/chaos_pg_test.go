//go:build unix

package crashtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is the chaos campaign's own PostgreSQL server: a cluster in
// a temporary directory, on a free port of the loopback, which the
// campaign restarts at will. The shared server the other tests use is
// never touched. PostgreSQL refuses to run as root: then the cluster
// belongs to the user postgres, and its commands run as that user.
type pgCluster struct {
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string // holds data/, the socket and the log
	port int
	as   string // the user to run the commands as; "" for this process's
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// dsn is the connection string of the cluster's database postgres.
func (c *pgCluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// pgBinDir returns the newest /usr/lib/postgresql/*/bin holding initdb
// and pg_ctl, or "".
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// freePort returns a TCP port of the loopback that nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startPGCluster creates and starts a cluster with the binaries of bin,
// stopped and removed when t is done, even if it fails.
func startPGCluster(t *testing.T, bin string) *pgCluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "sagakit-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{bin: bin, dir: dir}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
			if out, err := c.ctl("stop", "-m", "immediate"); err != nil {
				t.Errorf("stop the campaign's PostgreSQL: %v\n%s", err, out)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the campaign's PostgreSQL: %v", err)
		}
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("PostgreSQL does not run as root, and there is no user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.as = "postgres"
	}
	if c.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, c.dir)
	if out, err := c.ctl("start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "log"), "-o", opts); err != nil {
		t.Fatalf("start the campaign's PostgreSQL: %v\n%s\n%s", err, out, c.log())
	}
	return c
}

// run runs a command of the cluster, as its user.
func (c *pgCluster) run(name string, args ...string) (string, error) {
	if c.as != "" {
		args = append([]string{"-u", c.as, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	// The server pg_ctl starts keeps its output, which goes to the log:
	// should it hold the pipe anyway, do not wait for it.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ctl runs pg_ctl on the cluster.
func (c *pgCluster) ctl(args ...string) (string, error) {
	return c.run(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
}

// log returns the end of the server's log.
func (c *pgCluster) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// restart restarts the server, shutting it down in mode "fast" (clients
// are disconnected, the server checkpoints) or "immediate" (the server
// quits at once, and recovers from its log when it starts).
func (c *pgCluster) restart(mode string) error {
	if out, err := c.ctl("restart", "-w", "-t", "60", "-m", mode, "-l", filepath.Join(c.dir, "log")); err != nil {
		return fmt.Errorf("pg_ctl restart -m %s: %v\n%s\n%s", mode, err, out, c.log())
	}
	return nil
}

// terminateChaos terminates the backends of the campaign's processes (by
// their application_name, which begins with app) on the server of dsn,
// and returns how many.
func terminateChaos(ctx context.Context, dsn, app string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE $1 AND pid <> pg_backend_pid()) t`, app+"%").Scan(&n)
	return n, err
}
