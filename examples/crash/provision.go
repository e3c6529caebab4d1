//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

// VM is the saga state: what each step made.
type VM struct {
	Account string `json:"account,omitempty"` // set by create_account
	Disk    string `json:"disk,omitempty"`    // set by allocate_disk
	OS      string `json:"os,omitempty"`      // set by install_os
	ID      string `json:"id,omitempty"`      // set by start_vm
}

// cloud stands for the provider's API: it does what it is asked and
// remembers, in a file, the result of every request by its idempotency
// key, so that a request made again with the same key returns the first
// result without doing anything. The file outlives the worker, as the
// provider outlives its clients.
type cloud struct {
	mu   sync.Mutex
	path string
	done map[string]string // results by idempotency key
}

func openCloud(path string) (*cloud, error) {
	c := &cloud{path: path, done: map[string]string{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, result, _ := strings.Cut(sc.Text(), " ")
		c.done[key] = result
	}
	return c, sc.Err()
}

// do makes the request named key: it returns the result of an earlier
// request with that key, or does the work (work returns the result) and
// records it. again tells which.
func (c *cloud) do(key string, work func() string) (result string, again bool, err error) {
	if key == "" {
		return "", false, fmt.Errorf("cloud: a request without idempotency key")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.done[key]; ok {
		return r, true, nil
	}
	result = work()
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := fmt.Fprintf(f, "%s %s\n", key, result); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	c.done[key] = result
	return result, false, f.Close()
}

// provisioner runs the saga's steps against the cloud, printing what
// they do to w under the name of the process (worker or rescuer). crash,
// if not nil, is called in the middle of install_os: after the cloud did
// the work, before the step returns.
type provisioner struct {
	w     io.Writer
	who   string
	cloud *cloud
	crash func()
}

// request asks the cloud for the work of step, keyed by the step's
// idempotency key, and prints what happened.
func (p *provisioner) request(ctx context.Context, step string, work func() string) (string, error) {
	key := durable.IdempotencyKey(ctx)
	r, again, err := p.cloud.do(key, work)
	switch {
	case err != nil:
		return "", err
	case again:
		fmt.Fprintf(p.w, "%s: %s: key %s was done already: %s\n", p.who, step, key, r)
	default:
		fmt.Fprintf(p.w, "%s: %s: %s (key %s)\n", p.who, step, r, key)
	}
	return r, nil
}

func (p *provisioner) createAccount(ctx context.Context, vm *VM) (err error) {
	vm.Account, err = p.request(ctx, "create_account", func() string { return "acct-7" })
	return err
}

func (p *provisioner) deleteAccount(_ context.Context, vm *VM) error {
	fmt.Fprintf(p.w, "%s: delete_account: %s\n", p.who, vm.Account)
	return nil
}

func (p *provisioner) allocateDisk(ctx context.Context, vm *VM) (err error) {
	vm.Disk, err = p.request(ctx, "allocate_disk", func() string { return "disk-3 of " + vm.Account })
	return err
}

func (p *provisioner) freeDisk(_ context.Context, vm *VM) error {
	fmt.Fprintf(p.w, "%s: free_disk: %s\n", p.who, vm.Disk)
	return nil
}

func (p *provisioner) installOS(ctx context.Context, vm *VM) (err error) {
	vm.OS, err = p.request(ctx, "install_os", func() string { return "debian-13 on " + vm.Disk })
	if err == nil && p.crash != nil {
		fmt.Fprintf(p.w, "%s: install_os: killed (SIGKILL) before the step returns\n", p.who)
		p.crash()
	}
	return err
}

func (p *provisioner) startVM(ctx context.Context, vm *VM) (err error) {
	vm.ID, err = p.request(ctx, "start_vm", func() string { return "vm-42 with " + vm.OS })
	return err
}

func (p *provisioner) stopVM(_ context.Context, vm *VM) error {
	fmt.Fprintf(p.w, "%s: stop_vm: %s\n", p.who, vm.ID)
	return nil
}

// saga defines the provisioning saga. Every step is idempotent, since the
// cloud takes idempotency keys: a step whose outcome a crash lost runs
// again with the same key.
func (p *provisioner) saga() *saga.Saga[VM] {
	return saga.New[VM]().
		Name("provision_vm").
		Step("create_account", p.createAccount, p.deleteAccount, saga.Idempotent()).
		Step("allocate_disk", p.allocateDisk, p.freeDisk, saga.Idempotent()).
		Step("install_os", p.installOS, nil, saga.Idempotent()). // freeing the disk wipes it
		Step("start_vm", p.startVM, p.stopVM, saga.Idempotent()).
		Build()
}
