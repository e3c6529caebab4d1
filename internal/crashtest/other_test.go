//go:build !unix

package crashtest

import "testing"

func TestCrash(t *testing.T) {
	t.Skip("crashtest: the crash tests kill a child process with SIGKILL and need a Unix system")
}
