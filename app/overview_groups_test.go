package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestGroupRowsByEngine(t *testing.T) {
	hosts := []wire.Host{{Name: "b"}, {Name: "a"}, {Name: "empty"}}
	rows := []*containerRow{
		{host: "a", id: "1", state: "running", lastCPU: 1.5, memBytes: 100},
		{host: "late", id: "2", state: "exited"},
		{host: "b", id: "3", state: "running", lastCPU: 2},
		{host: "a", id: "4", state: "exited", memBytes: 50},
	}
	groups := groupRows(rows, hosts)
	var got []string
	for _, g := range groups {
		ids := ""
		for _, r := range g.rows {
			ids += r.id
		}
		got = append(got, fmt.Sprintf("%s:%s:%d:%.1f:%d", g.host, ids, g.running, g.cpu, g.memory))
	}
	want := []string{"b:3:1:2.0:0", "a:14:1:1.5:150", "late:2:0:0.0:0"}
	if !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v (the hosts' order, empty engines left out, rows kept in order)", got, want)
	}
}

func TestEnginesTroubledFirst(t *testing.T) {
	hosts := []wire.Host{
		{Name: "ok1", State: "connected"},
		{Name: "down", State: "unreachable"},
		{Name: "ok2", State: "connected"},
		{Name: "stats", State: "connected"},
		{Name: "err", State: "connected", Error: "boom"},
	}
	var got []string
	for _, h := range enginesInOrder(hosts, map[string]string{"stats": "stats failed"}) {
		got = append(got, h.Name)
	}
	if want := []string{"down", "stats", "err", "ok1", "ok2"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if hosts[0].Name != "ok1" {
		t.Error("the shared list was reordered in place")
	}
}

func TestPageBounds(t *testing.T) {
	for _, tc := range []struct{ n, per, page, start, end, clamped, pages int }{
		{0, 10, 1, 0, 0, 1, 1},
		{5, 10, 1, 0, 5, 1, 1},
		{500, 12, 1, 0, 12, 1, 42},
		{500, 12, 42, 492, 500, 42, 42},
		{500, 12, 99, 492, 500, 42, 42}, // past the end: the last page
		{500, 12, 0, 0, 12, 1, 42},      // unset: the first
		{20, 10, 2, 10, 20, 2, 2},
	} {
		start, end, clamped, pages := pageBounds(tc.n, tc.per, tc.page)
		if start != tc.start || end != tc.end || clamped != tc.clamped || pages != tc.pages {
			t.Errorf("pageBounds(%d, %d, %d) = %d %d %d %d, want %d %d %d %d", tc.n, tc.per, tc.page,
				start, end, clamped, pages, tc.start, tc.end, tc.clamped, tc.pages)
		}
	}
}
