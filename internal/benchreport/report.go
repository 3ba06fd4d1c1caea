package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// rule is one row of a section's table. A rule with no op is a figure
// reported for information.
type rule struct {
	bench, metric string // exact benchmark name (no -N suffix) and unit
	label         string
	op            string // "<", "<=", ">=" or "" for information only
	target        float64
	// why, when the target is missed, tells what this run's own figures
	// say about it (which part dominated, the floor's figure beside it).
	why func(results) string
}

// section is one issue's table. Benchmarks whose name has one of prefixes
// and that no rule names are listed after the rules, every metric for
// information. Each floor is one line describing a baseline of the table.
type section struct {
	title    string
	rules    []rule
	prefixes []string
	floors   []string
}

// report is everything BENCHMARKS.md is written from.
type report struct {
	header string // the machine's description, as .ci/bench wrote it
	commit string // the commit measured
	dirty  bool   // the tree had uncommitted changes when the run started
	soak   string // the soak section kept from the previous report ("" if none)
	res    results
}

// soakResultPrefix starts the line in the soak section that says whether
// the soak run passed its checks (server/soak_test.go writes it).
const soakResultPrefix = "<!-- soak:result "

// render writes the whole report: the header, one table per section, the
// other benchmarks, the soak section, and every target not met.
func (rep report) render(sections []section) string {
	var b strings.Builder
	var missed []string
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`.ci/bench`, report by `internal/benchreport`) from the raw output in `bench.out`. ")
	b.WriteString("Each target that compares crowsnest with a floor uses the floor measured side by side in the same run; the line under each table describes its floors.\n\n")
	fmt.Fprintf(&b, "Commit measured: %s", rep.commit)
	if rep.dirty {
		b.WriteString(" **with uncommitted changes**")
		missed = append(missed, fmt.Sprintf("- **commit**: the tree had uncommitted changes when `make bench` started: these figures are not those of %s.", rep.commit))
	}
	b.WriteString("\n\n")
	if rep.header != "" {
		b.WriteString(strings.TrimRight(rep.header, "\n") + "\n\n")
	}
	used := map[string]bool{}
	for _, s := range sections {
		missed = append(missed, rep.section(&b, s, used)...)
	}
	missed = append(missed, rep.others(&b, used)...)
	if rep.soak != "" {
		b.WriteString(rep.soak + "\n\n")
	}
	missed = append(missed, soakMissed(rep.soak)...)
	b.WriteString("## Targets not met\n\n")
	if len(missed) == 0 {
		b.WriteString("Every target has a measured figure, and every figure meets its target.\n")
	} else {
		b.WriteString("Targets missed, and targets with no measured figure (skipped, failed or absent benchmarks).\n\n")
		b.WriteString(strings.Join(missed, "\n") + "\n")
	}
	return b.String()
}

// section writes one table and returns its entries for "not met".
func (rep report) section(b *strings.Builder, s section, used map[string]bool) []string {
	var missed []string
	fmt.Fprintf(b, "## %s\n\n| figure | measured | target | |\n|---|---|---|---|\n", s.title)
	rows := len(s.rules)
	for _, r := range s.rules {
		used[r.bench] = true
		v, why := rep.res.figure(r.bench, r.metric)
		val, mark := format(v), ""
		switch {
		case why != "" && r.op != "":
			val, mark = why, "**not met**"
			missed = append(missed, fmt.Sprintf("- **%s** (%s): no figure, %s; target %s.", s.title, r.label, why, targetText(r.op, r.target)))
		case why != "":
			val = why
		case r.op == "":
		case meets(v, r.op, r.target):
			mark = "met"
		default:
			mark = "**not met**"
			line := fmt.Sprintf("- **%s** (%s): %s, target %s.", s.title, r.label, format(v), targetText(r.op, r.target))
			if r.why != nil {
				if note := r.why(rep.res); note != "" {
					line += " " + note
				}
			}
			missed = append(missed, line)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", r.label, val, targetText(r.op, r.target), mark)
	}
	for _, name := range rep.res.order {
		if used[name] || !hasPrefix(name, s.prefixes) {
			continue
		}
		used[name] = true
		rows++
		res := rep.res.byName[name]
		if res.status != "" {
			fmt.Fprintf(b, "| `%s` | %s | | **not met** |\n", name, res.status)
			missed = append(missed, fmt.Sprintf("- **%s** (`%s`): %s.", s.title, name, res.status))
			continue
		}
		for _, unit := range res.units {
			fmt.Fprintf(b, "| `%s` %s | %s | | |\n", name, unit, humanize(unit, res.metrics[unit]))
		}
	}
	if rows == 0 {
		b.WriteString("| no benchmark of this section in bench.out | | | |\n")
	}
	b.WriteString("\n")
	for _, f := range s.floors {
		b.WriteString(f + "\n\n")
	}
	return missed
}

// others lists the benchmarks no section claims, and returns the skipped
// and failed ones for "not met".
func (rep report) others(b *strings.Builder, used map[string]bool) []string {
	var names []string
	for _, name := range rep.res.order {
		if !used[name] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	var missed []string
	b.WriteString("## Other benchmarks\n\n| benchmark | figures |\n|---|---|\n")
	for _, name := range names {
		res := rep.res.byName[name]
		if res.status != "" {
			fmt.Fprintf(b, "| `%s` (%s) | %s |\n", name, res.pkg, res.status)
			missed = append(missed, fmt.Sprintf("- **Other benchmarks** (`%s`): %s.", name, res.status))
			continue
		}
		var f []string
		for _, u := range res.units {
			f = append(f, humanize(u, res.metrics[u])+" "+u)
		}
		fmt.Fprintf(b, "| `%s` (%s) | %s |\n", name, res.pkg, strings.Join(f, ", "))
	}
	b.WriteString("\n")
	return missed
}

// soakMissed is the "not met" entry of the soak section: none when it
// records a run that passed every check.
func soakMissed(soak string) []string {
	if soak == "" {
		return []string{"- **Soak (issue 7)**: no soak run recorded; run `make soak` on a committed tree."}
	}
	_, rest, ok := strings.Cut(soak, soakResultPrefix)
	if !ok {
		return []string{"- **Soak (issue 7)**: the recorded soak section says nothing of its checks (written before they existed); run `make soak` again."}
	}
	verdict, _, _ := strings.Cut(rest, " -->")
	if verdict == "ok" {
		return nil
	}
	return []string{"- **Soak (issue 7)**: " + verdict + "."}
}

// figure is the value of metric in bench, or, when there is none, why.
func (res results) figure(bench, metric string) (float64, string) {
	r, ok := res.byName[bench]
	switch {
	case !ok:
		return 0, "not measured (absent from bench.out)"
	case r.status != "":
		return 0, r.status
	}
	v, ok := r.metrics[metric]
	if !ok {
		return 0, "metric `" + metric + "` not reported"
	}
	return v, ""
}

// get is a measured figure, and whether there is one.
func (res results) get(bench, metric string) (float64, bool) {
	v, why := res.figure(bench, metric)
	return v, why == ""
}

func meets(v float64, op string, target float64) bool {
	switch op {
	case "<":
		return v < target
	case "<=":
		return v <= target
	case ">=":
		return v >= target
	}
	return true
}

func targetText(op string, target float64) string {
	if op == "" {
		return ""
	}
	return strings.NewReplacer("<=", "≤", ">=", "≥").Replace(op) + " " + strconv.FormatFloat(target, 'g', -1, 64)
}

func format(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.01:
		return strconv.FormatFloat(v, 'f', 3, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// humanize shows ns/op, the time of one iteration, in a readable unit.
func humanize(unit string, v float64) string {
	if unit == "ns/op" && v >= 1e6 {
		if v >= 1e9 {
			return format(v/1e9) + " s ="
		}
		return format(v/1e6) + " ms ="
	}
	return format(v)
}

// keptSoak is the soak section of an old report, between the markers
// server/soak_test.go writes; "" when it has none.
func keptSoak(old string) string {
	const begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
	i := strings.Index(old, begin)
	if i < 0 {
		return ""
	}
	j := strings.Index(old[i:], end)
	if j < 0 {
		return ""
	}
	return old[i : i+j+len(end)]
}
