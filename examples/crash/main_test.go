//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
	"go.uber.org/goleak"

	"github.com/sagakit/sagakit/internal/exampletest"
)

// TestMain makes the test binary the worker when the story runs it.
func TestMain(m *testing.M) {
	if dir := os.Getenv(workerEnv); dir != "" {
		err := worker(context.Background(), os.Stdout, dir)
		fmt.Fprintln(os.Stderr, "crash:", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m) // the story leaves no goroutine running
}

func TestStory(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(story(t.Context(), &buf, t.TempDir()))
	out := buf.String()

	exampletest.InOrder(t, out,
		"worker: create_account: acct-7 (key provision-1/create_account/1)",
		"worker: allocate_disk: disk-3 of acct-7 (key provision-1/allocate_disk/1)",
		"worker: install_os: debian-13 on disk-3 of acct-7 (key provision-1/install_os/1)",
		"worker: install_os: killed (SIGKILL) before the step returns",
		"The worker died: signal: killed.",
		`saga "provision_vm" run provision-1 running for`,
		`state:    {"account":"acct-7","disk":"disk-3 of acct-7"}`,
		"lease:    held by worker,",
		"create_account succeeded: recovery takes its result from the journal and does not run it again.",
		"allocate_disk succeeded: recovery takes its result from the journal and does not run it again.",
		"install_os was running: its outcome is lost. It is idempotent, so it runs again with the same key, provision-1/install_os/1.",
		"rescuer: install_os: key provision-1/install_os/1 was done already: debian-13 on disk-3 of acct-7",
		"rescuer: start_vm: vm-42 with debian-13 on disk-3 of acct-7 (key provision-1/start_vm/1)",
		"Recovered 1 run.",
		`saga "provision_vm" run provision-1 succeeded in`,
		`state:    {"account":"acct-7","disk":"disk-3 of acct-7","os":"debian-13 on disk-3 of acct-7","id":"vm-42 with debian-13 on disk-3 of acct-7"}`,
	)
	// The rescuer ran nothing the journal held as done, and the cloud did
	// install_os's work once.
	is.True(!strings.Contains(out, "rescuer: create_account"))
	is.True(!strings.Contains(out, "rescuer: allocate_disk"))
	is.Equal(strings.Count(out, "(key provision-1/install_os/1)"), 1)

	_, final, _ := strings.Cut(out, "# The final report")
	for _, step := range []string{"create_account", "allocate_disk", "install_os", "start_vm"} {
		is.Equal(exampletest.Row(t, final, step)[:3], []string{step, "succeeded", "1"})
	}
	is.Equal(exampletest.Row(t, out, "install_os")[:2], []string{"install_os", "running"}) // before recovery
}
