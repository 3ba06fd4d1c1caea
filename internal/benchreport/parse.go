package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is one benchmark line: its metrics by unit, or why it has none.
type result struct {
	name    string
	pkg     string
	metrics map[string]float64
	units   []string // in output order
	status  string   // "" (ran), "failed…" or "skipped: reason"
}

// failed reports whether the benchmark failed.
func (r *result) failed() bool { return strings.HasPrefix(r.status, "failed") }

// results are the parsed benchmarks by name, and their names in output order.
type results struct {
	byName map[string]*result
	order  []string
}

var (
	benchLine  = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)
	statusLine = regexp.MustCompile(`^\s*--- (FAIL|SKIP): (Benchmark\S+?)(-\d+)?(\s|$)`)
)

// parse reads benchmark lines and FAIL/SKIP markers. A benchmark that ran
// several times (-count) keeps its last figures.
func parse(in io.Reader) (results, error) {
	byName := map[string]*result{}
	var order []string
	get := func(name, pkg string) *result {
		r, ok := byName[name]
		if !ok {
			r = &result{name: name, pkg: pkg, metrics: map[string]float64{}}
			byName[name] = r
			order = append(order, name)
		}
		return r
	}
	pkg := ""
	var skipped *result // a SKIP line is followed by its reason
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if skipped != nil {
			if reason := strings.TrimSpace(line); reason != "" && !strings.HasPrefix(reason, "---") {
				if _, msg, ok := strings.Cut(reason, ": "); ok {
					reason = msg
				}
				skipped.status = "skipped: " + reason
			}
			skipped = nil
		}
		if m := statusLine.FindStringSubmatch(line); m != nil {
			r := get(m[2], pkg)
			if m[1] == "FAIL" {
				// A parent fails with its sub-benchmark; the figures of the
				// ones that passed stay.
				if len(r.metrics) == 0 {
					r.status = "failed (see bench.out)"
				}
			} else if len(r.metrics) == 0 {
				r.status = "skipped"
				skipped = r
			}
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r := get(m[1], pkg)
		r.status = ""
		r.units = r.units[:0]
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			if !slices.Contains(r.units, fields[i+1]) {
				r.units = append(r.units, fields[i+1])
			}
			r.metrics[fields[i+1]] = v
		}
	}
	// Parents of sub-benchmarks print no figures of their own; leave them out.
	var kept []string
	for _, name := range order {
		r := byName[name]
		if len(r.metrics) == 0 && r.failed() && hasChild(order, name) {
			delete(byName, name)
			continue
		}
		kept = append(kept, name)
	}
	if err := sc.Err(); err != nil {
		return results{}, fmt.Errorf("reading the benchmark output: %w", err)
	}
	return results{byName: byName, order: kept}, nil
}

func hasChild(order []string, name string) bool {
	for _, o := range order {
		if strings.HasPrefix(o, name+"/") {
			return true
		}
	}
	return false
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
