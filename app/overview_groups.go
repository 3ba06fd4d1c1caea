package main

import (
	"slices"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// The overview stays usable at hundreds of engines: the engines' cards come
// in pages with the troubled ones first, and the containers are grouped by
// engine, each group collapsible, the groups in pages too. A page of 500
// engines' cards and thousands of rows at once would take seconds to draw
// and could not be read anyway.

const (
	// enginesPerPage is how many engine cards a page of the engines shows.
	enginesPerPage = 12
	// groupsPerPage is how many engines' container groups a page shows.
	groupsPerPage = 10
	// groupsOpenUpTo is how many groups there may be for all to start
	// open; with more, each starts closed and shows its summary line.
	groupsOpenUpTo = 4
)

// engineGroup is one engine's containers on the overview.
type engineGroup struct {
	host    string
	rows    []*containerRow // those matching the filter, in the chosen order
	running int
	cpu     float64 // the sum of the rows' latest CPU samples
	memory  uint64  // the sum of the rows' latest memory use, in bytes
}

// groupRows splits rows (sorted) by engine, keeping their order within
// each group. Groups follow the engines' order in hosts; an engine that
// is not (or not yet) listed there comes after, in the order first seen.
func groupRows(rows []*containerRow, hosts []wire.Host) []engineGroup {
	index := map[string]int{}
	var groups []engineGroup
	for _, h := range hosts {
		index[h.Name] = len(groups)
		groups = append(groups, engineGroup{host: h.Name})
	}
	for _, r := range rows {
		i, ok := index[r.host]
		if !ok {
			i = len(groups)
			index[r.host] = i
			groups = append(groups, engineGroup{host: r.host})
		}
		g := &groups[i]
		g.rows = append(g.rows, r)
		if r.state == "running" {
			g.running++
		}
		g.cpu += r.lastCPU
		g.memory += r.memBytes
	}
	return slices.DeleteFunc(groups, func(g engineGroup) bool { return len(g.rows) == 0 })
}

// troubled reports whether an engine needs a look: not connected, or
// reporting an error.
func troubled(h wire.Host, streamErr string) bool {
	return h.State != "connected" || h.Error != "" || streamErr != ""
}

// enginesInOrder is hosts with the troubled ones first, each part in the
// server's order, so a broken engine among hundreds is on the first page.
func enginesInOrder(hosts []wire.Host, streamErrs map[string]string) []wire.Host {
	out := slices.Clone(hosts)
	slices.SortStableFunc(out, func(a, b wire.Host) int {
		ta, tb := troubled(a, streamErrs[a.Name]), troubled(b, streamErrs[b.Name])
		switch {
		case ta && !tb:
			return -1
		case tb && !ta:
			return 1
		}
		return 0
	})
	return out
}

// pageBounds is the slice [start, end) of n items that page (1-based,
// clamped to the pages there are) shows at per items a page, and the
// clamped page and the number of pages (at least 1).
func pageBounds(n, per, page int) (start, end, clamped, pages int) {
	pages = max(1, (n+per-1)/per)
	clamped = min(max(page, 1), pages)
	start = (clamped - 1) * per
	end = min(start+per, n)
	return start, end, clamped, pages
}
