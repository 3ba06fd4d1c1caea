// Command helper is the tiny program the tests run inside containers, since no
// registry is reachable to pull a real image. It prints lines at a rate,
// optionally burns CPU and holds memory, sleeps, then exits with a chosen
// code, so a test can script exactly the logs, stats and events it expects.
// It uses the standard library only so it builds statically anywhere.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	lines := flag.Int("lines", 0, "number of lines to print; negative prints forever")
	every := flag.Duration("every", 0, "pause between lines")
	stderr := flag.Bool("stderr", false, "also print each line to stderr, prefixed \"err \"")
	text := flag.String("text", "line", "text of each line, followed by its number")
	cpu := flag.Int("cpu", 0, "number of CPU cores to keep busy while running")
	mem := flag.Int("mem", 0, "MiB to allocate, touch and hold while running")
	wait := flag.Duration("wait", 0, "time to wait before printing, e.g. for a viewer to attach before a burst")
	sleep := flag.Duration("sleep", 0, "time to wait after printing, before exiting")
	code := flag.Int("exit", 0, "exit code")
	repeat := flag.Int("repeat", 1, "repeat the text this many times in each line, for lines longer than an argument may be")
	flag.Parse()
	*text = strings.Repeat(*text, max(*repeat, 1))

	// As PID 1 in a container, a signal with no handler is ignored; handle
	// SIGTERM/SIGINT so "docker stop" ends the helper promptly with the
	// conventional 128+signal code instead of waiting for SIGKILL.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		os.Exit(128 + int(s.(syscall.Signal)))
	}()

	for range *cpu {
		go burn()
	}
	held := hold(*mem)
	time.Sleep(*wait)

	for i := 1; *lines < 0 || i <= *lines; i++ {
		fmt.Fprintf(os.Stdout, "%s %d\n", *text, i)
		if *stderr {
			fmt.Fprintf(os.Stderr, "err %s %d\n", *text, i)
		}
		if *every > 0 {
			time.Sleep(*every)
		}
	}
	time.Sleep(*sleep)
	if len(held) > 0 && held[len(held)-1] != 1 {
		// Unreachable; reading held keeps the memory live until exit.
		os.Exit(99)
	}
	os.Exit(*code)
}

// burn keeps one core busy forever.
func burn() {
	n := 0
	for {
		n++
	}
}

// hold allocates mib MiB and writes every page so the memory is resident, not
// just reserved, and shows in the container's memory usage.
func hold(mib int) []byte {
	if mib <= 0 {
		return nil
	}
	b := make([]byte, mib<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	b[len(b)-1] = 1
	return b
}
