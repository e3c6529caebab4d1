//go:build !unix

// Command fleet shows a saga service running as several replicas on one
// PostgreSQL database. It kills a worker process with SIGKILL, so it
// needs a Unix system.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fleet: this example kills a process with SIGKILL and needs a Unix system")
	os.Exit(1)
}
