package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// queryFuzzNow is the clock of the query fuzzers: durations count back from it.
var queryFuzzNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// linkURL pulls the URLs out of a Link header.
var linkURL = regexp.MustCompile(`<([^>]*)>; rel="(first|prev|next|last)"`)

// FuzzEventsListQuery feeds GET /api/v1/events arbitrary queries (tag, type,
// page, per_page, lt/lte/gt/gte, aggregator, field) and search bodies. A
// refusal must be a client error (400, 413, 415); what is accepted must be
// in range (page ≥ 1, 1 ≤ per_page ≤ MaxPerPage), valid for the store, run
// on a real store without error, and give Link headers that parse back to
// the same page size.
func FuzzEventsListQuery(f *testing.F) {
	for _, q := range []string{
		"", "tag=deploy&tag=env:prod&page=2&per_page=10", "page=-1&per_page=0", "page=99999999999999999999",
		"per_page=1001", "type=container&gt=1h&lt=2026-03-14T15:00:00Z", "gte=1700000000.5&lte=1800000000",
		"aggregator=average&field=cpu", "aggregator=count", "field=cpu", "tag=&type=", "type=a&type=b",
		"lt=NaN", "gt=-1", "gte=1e308", "lt=9999999999999", "gt=292y", "gt=2562047h", "tag=%zz", "a=1;b=2",
		"page=1&page=x&per_page=5&per_page=9", "gt=1700000000.123456789&lt=1700000000.1234567891",
	} {
		f.Add(q, "", []byte(nil))
	}
	f.Add("tag=a", "application/json", []byte(`{"tags":["b"],"type":"t","timestamp":{"gt":"2020-01-01T00:00:00Z"},"aggregator":{"type":"max","field":"v"}}`))
	f.Add("type=a", "application/x-yaml", []byte("tags: [x]\ntype: b\n"))
	f.Add("aggregator=min&field=f", "application/json", []byte(`{"aggregator":{"type":"max","field":"f"}}`))
	f.Add("", "text/plain", []byte(`{}`))

	st, err := store.Open(filepath.Join(f.TempDir(), "fuzz.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	for i := range 5 {
		if _, err := st.Append(context.Background(), wire.Event{
			Tags: []string{"deploy", "env:prod"}, Type: "container",
			Value: []byte(`{"cpu":` + strconv.Itoa(i) + `,"v":1}`),
		}); err != nil {
			f.Fatal(err)
		}
	}
	s := &Server{store: st}

	f.Fuzz(func(t *testing.T, rawQuery, ctype string, body []byte) {
		// Only targets net/http would pass on: its request line ends the
		// target at a space, and it refuses control characters with 400.
		if strings.Contains(rawQuery, " ") {
			return
		}
		u, err := url.ParseRequestURI("/api/v1/events?" + rawQuery)
		if err != nil {
			return
		}
		r := &http.Request{Method: "GET", URL: u, Header: http.Header{}, Body: http.NoBody}
		if len(body) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		req, err := s.parseListRequest(httptest.NewRecorder(), r)
		if err != nil {
			switch status := failStatus(err); status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("refused with status %d: %v", status, err)
			}
			return
		}
		if req.page < 1 || req.perPage < 1 || req.perPage > store.MaxPerPage {
			t.Fatalf("accepted page %d, per_page %d", req.page, req.perPage)
		}
		if err := req.filter.Validate(); err != nil {
			t.Fatalf("accepted a filter the store refuses: %v", err)
		}
		ctx := context.Background()
		if req.aggregator != nil {
			if _, err := st.Aggregate(ctx, req.filter, *req.aggregator); err != nil {
				var fe *store.FieldError
				if !errors.As(err, &fe) { // a FieldError is answered 400; anything else would be a 500
					t.Fatalf("aggregate %+v: %v", *req.aggregator, err)
				}
			}
			return
		}
		page, err := st.Query(ctx, store.Query{Filter: req.filter, Page: min(req.page, maxPage), PerPage: req.perPage})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		last := max(1, (page.Total+req.perPage-1)/req.perPage)
		links := linkURL.FindAllStringSubmatch(pageLinks(r.URL, req.page, last, req.perPage, req.perPageGiven), -1)
		if len(links) < 2 {
			t.Fatalf("Link header with %d links", len(links))
		}
		for _, l := range links {
			u, err := url.Parse(l[1])
			if err != nil {
				t.Fatalf("%s link %q does not parse: %v", l[2], l[1], err)
			}
			q, _ := url.ParseQuery(u.RawQuery)
			if p, err := strconv.Atoi(q.Get("page")); err != nil || p < 1 || p > max(last, req.page) {
				t.Fatalf("%s link %q: page %q (last %d)", l[2], l[1], q.Get("page"), last)
			}
			if req.perPageGiven && q.Get("per_page") != strconv.Itoa(req.perPage) {
				t.Fatalf("%s link %q: per_page %q, want %d", l[2], l[1], q.Get("per_page"), req.perPage)
			}
		}
	})
}

// FuzzEventsWSQuery feeds /events/ws arbitrary queries: filters (both JSON
// forms) and since/until through parseTime. It must never panic; what it
// accepts must have until not before since, and its filters must match
// events without panicking.
func FuzzEventsWSQuery(f *testing.F) {
	for _, q := range []string{
		"", `filters={"event":["die"],"label":["env=prod"]}&since=1h`, `filters={"container":{"web":true}}&until=0`,
		"since=1700000000&until=1600000000", "since=2026-03-14T15:09:26.123456789+02:00", "since=1e9", "since=-5",
		"since=10m&until=5m", "since=1700000000.999999999999", "since=%20%201h%20", `filters={"host":["Localhost"],"image":["nginx:1"]}`,
		`filters={"label":{"a":true,"b=c":true}}`, `filters=[]`, `filters={"bogus":["x"]}`, "since=9223372036854775807",
	} {
		f.Add(q)
	}
	ev := wire.ContainerEvent{
		Status: "die", ID: "0123456789ab", From: "nginx:1", Type: "container", Action: "die",
		Actor: wire.Actor{ID: "0123456789ab", Attributes: map[string]string{"name": "web", "image": "nginx:1", "env": "prod", "a": ""}},
		Time:  queryFuzzNow.Unix(), TimeNano: queryFuzzNow.UnixNano(), Host: "Localhost",
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/events/ws", RawQuery: rawQuery}, Header: http.Header{}}
		req, err := parseEventsRequest(r, queryFuzzNow)
		if err != nil {
			return
		}
		if req.since != nil && req.until != nil && req.until.Before(*req.since) {
			t.Fatalf("accepted until %v before since %v", req.until, req.since)
		}
		for _, tm := range []*time.Time{req.since, req.until} {
			if tm != nil && tm.Location() != time.UTC {
				t.Fatalf("time %v not in UTC", tm)
			}
		}
		req.filters.Match(ev)
		ev2 := ev
		ev2.Actor.Attributes = nil
		req.filters.Match(ev2)
	})
}
