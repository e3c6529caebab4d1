package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/internal/exampletest"
)

func TestRun(t *testing.T) {
	is := is.New(t)
	var buf bytes.Buffer
	is.NoErr(run(&buf))
	out := buf.String()

	exampletest.InOrder(t, out,
		`HOOK: transaction "provision_user_and_vm" (create_user_and_vm_transaction) starting`,
		"Creating user: jane.doe (jane@example.com)",
		"Creating VM: jane-vm for user user_abc",                                                                      // the user ID came through the state
		`HOOK: step "assign_ip" attempt 1 failed (timed out after 50ms: context deadline exceeded), retrying in 10ms`, // the timeout
		`HOOK: step "assign_ip" attempt 2 failed (ip pool exhausted), retrying in 20ms`,                               // the backoff
		"Assigning IP to VM vm_xyz (call 3)",
		`HOOK: step "assign_ip" failed after 3 attempt(s): retry: gave up after 3 attempts (exhausted): ip pool exhausted`,
		"HOOK: rollback initiated for transaction create_user_and_vm_transaction",
		"Deleting VM: vm_xyz (call 1)",
		`HOOK: rollback of "create_vm" attempt 1 failed (hypervisor busy), retrying in 10ms`,
		`level=WARN msg="compensation will retry" step=create_vm attempt=1 error="hypervisor busy" delay=10ms`,
		"Deleting VM: vm_xyz (call 2)",
		`HOOK: step "create_vm" rolled back`,
		"Deleting user: user_abc",
		`HOOK: step "create_user" rolled back`,
		"HOOK: transaction create_user_and_vm_transaction ended: compensated",
		`Transaction failed at step "assign_ip": ip pool exhausted; everything was rolled back: true`,
		`saga "provision_user_and_vm" run create_user_and_vm_transaction compensated in`,
	)
	is.True(!strings.Contains(out, "Releasing IP")) // the failed step is not compensated
	is.True(!strings.Contains(out, "(call 4)"))     // three attempts, no more
	is.True(!strings.Contains(out, "time="))        // the log is stable
	is.True(!strings.Contains(out, "level=DEBUG"))  // the logger's level holds

	is.Equal(exampletest.Row(t, out, "create_user")[:3], []string{"create_user", "compensated", "1"})
	is.Equal(exampletest.Row(t, out, "create_vm")[:3], []string{"create_vm", "compensated", "1"})
	is.Equal(exampletest.Row(t, out, "assign_ip")[:3], []string{"assign_ip", "failed", "3"})
	is.True(strings.HasSuffix(strings.Join(exampletest.Row(t, out, "create_vm"), " "), "2 attempt(s)"))
}
