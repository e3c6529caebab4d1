//go:build !unix

// Command crash shows a saga run surviving the death of its process. It
// kills a worker process with SIGKILL, so it needs a Unix system.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crash: this example kills a process with SIGKILL and needs a Unix system")
	os.Exit(1)
}
