//go:build !unix

// Command fanout shows a durable graph run surviving the death of its
// process in the middle of its fan-out. It kills a worker process with
// SIGKILL, so it needs a Unix system.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fanout: this example kills a process with SIGKILL and needs a Unix system")
	os.Exit(1)
}
