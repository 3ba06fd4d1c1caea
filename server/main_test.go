package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// childEnv carries the crowsnest flags of a benchmark's child process,
// separated by \x1f.
const childEnv = "CROWSNEST_BENCH_CHILD"

// TestMain runs the tests, or, in a child process that childCommand
// started, crowsnest itself.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runChild(strings.Split(args, "\x1f")))
	}
	os.Exit(testenv.Main(m))
}

// childCommand is the test binary run again as crowsnest with args, so
// that crowsnest runs in a process of its own whose CPU time and memory a
// benchmark reads apart from its own clients'. It stops on SIGINT.
func childCommand(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	return cmd
}

// runChild runs crowsnest with args until SIGINT or SIGTERM, and answers
// the process's exit code.
func runChild(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, args, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crowsnest:", err)
		return 1
	}
	return 0
}
