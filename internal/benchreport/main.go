// Command benchreport turns the raw output of `go test -bench` (bench.out)
// into BENCHMARKS.md: the machine and the commit measured, one table per
// issue with each figure, its target and whether it is met, one line
// describing each floor, and a list of every target not met, including
// those with no figure (skipped, failed or absent benchmarks). The soak
// section, written by `make soak`, is carried over from the old report.
//
//	go run ./internal/benchreport -in bench.out -header header.md -commit abc1234 -out BENCHMARKS.md
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
)

func main() {
	in := flag.String("in", "bench.out", "raw go test -bench output")
	header := flag.String("header", "", "file with the machine's description (a Markdown table)")
	commit := flag.String("commit", "unknown", "the commit measured")
	dirty := flag.Bool("dirty", false, "the tree had uncommitted changes when the run started")
	out := flag.String("out", "BENCHMARKS.md", "report to write (its soak section is kept)")
	flag.Parse()
	if err := write(*in, *header, *commit, *dirty, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func write(in, header, commit string, dirty bool, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return err
	}
	rep := report{commit: commit, dirty: dirty, res: res}
	if header != "" {
		h, err := os.ReadFile(header)
		if err != nil {
			return err
		}
		rep.header = string(h)
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rep.soak = keptSoak(string(old))
	return os.WriteFile(out, []byte(rep.render(sections)), 0o644)
}
