package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/body"
	"github.com/crowsnest-hq/crowsnest/internal/store"
	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// maxPage bounds the page number handed to the store, so that the offset
// (page-1)*per_page can never overflow. No store holds that many events: a
// larger page is past the end either way, and the answer is the same.
const maxPage = 1 << 30

// aggregateResult is the answer of GET /api/v1/events with an aggregator:
// {"type":"average","field":"cpu","value":12.5}. Field is left out by a count
// of every matching event (a count with a field counts the events holding a
// number there). Only events whose value is an object with a number under
// field contribute; the average, min or max of none is 0 (the store's rule,
// so a quiet period reads as 0). Value would be null only for a non-finite
// result, which JSON cannot carry.
type aggregateResult struct {
	Type  string   `json:"type"`
	Field string   `json:"field,omitempty"`
	Value *float64 `json:"value"`
}

// listRequest is a parsed GET /api/v1/events.
type listRequest struct {
	filter       store.Filter
	page         int
	perPage      int
	perPageGiven bool              // per_page was in the query: links carry the effective value
	aggregator   *store.Aggregator // nil: a page of events, not an aggregate
}

// handleCreateEvent serves Vamp's create: one event object or a list of them,
// JSON or YAML by Content-Type, stored in one durable commit (all or nothing).
// parseEventsBody checks every event of a list before anything is stored, and
// names the bad one ("[2].type: …"). It answers 201 with what was stored, in
// the shape that was sent (object or list), as JSON or YAML by Accept.
func (s *Server) handleCreateEvent(w http.ResponseWriter, r *http.Request) {
	out, err := responseFormat(r)
	if err != nil {
		s.fail(w, r, "storing events", err)
		return
	}
	in, err := requestFormat(r)
	if err != nil {
		s.fail(w, r, "storing events", err)
		return
	}
	data, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, "storing events", err)
		return
	}
	events, isList, err := parseEventsBody(in, data)
	if err != nil {
		s.fail(w, r, "storing events", invalid(err))
		return
	}
	if len(events) == 0 { // parseEventsBody refuses an empty body or list; never store nothing as a 201
		s.fail(w, r, "storing events", invalid(errors.New("body: no event")))
		return
	}
	if err := refuseReserved(events, isList); err != nil {
		s.fail(w, r, "storing events", invalid(err))
		return
	}
	stored, err := s.store.Append(r.Context(), events...)
	if err != nil {
		// A client that left before the commit gets nothing: nothing was stored.
		s.fail(w, r, "storing events", fmt.Errorf("store events: %w", err))
		return
	}
	s.metrics.eventsIn.WithLabelValues("api").Add(float64(len(stored)))
	if isList {
		writeFormatted(w, out, http.StatusCreated, stored)
		return
	}
	writeFormatted(w, out, http.StatusCreated, stored[0])
}

// handleListEvents serves Vamp's list: a page of the stored events matching
// the filters, newest first, with X-Total-Count and a Link header; or, with an
// aggregator, one aggregateResult. Filters and the aggregator come from the
// query, from a Vamp search body (JSON or YAML), or both: tags from both are
// all required, and any other field given in both places with different
// values is a 400.
func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	out, err := responseFormat(r)
	if err != nil {
		s.fail(w, r, "listing events", err)
		return
	}
	req, err := s.parseListRequest(w, r)
	if err != nil {
		s.fail(w, r, "listing events", err)
		return
	}
	if req.aggregator != nil {
		s.aggregate(w, r, out, req)
		return
	}
	page, err := s.store.Query(r.Context(), store.Query{
		Filter: req.filter, Page: min(req.page, maxPage), PerPage: req.perPage,
	})
	if err != nil {
		s.fail(w, r, "listing events", fmt.Errorf("query events: %w", err))
		return
	}
	events := page.Events
	if events == nil {
		events = []wire.Event{} // an empty page is [], never null
	}
	last := max(1, (page.Total+req.perPage-1)/req.perPage)
	w.Header().Set("X-Total-Count", strconv.Itoa(page.Total))
	w.Header().Set("Link", pageLinks(r.URL, req.page, last, req.perPage, req.perPageGiven))
	writeFormatted(w, out, http.StatusOK, events)
}

// aggregate answers one aggregateResult for req.
func (s *Server) aggregate(w http.ResponseWriter, r *http.Request, out body.Format, req listRequest) {
	v, err := s.store.Aggregate(r.Context(), req.filter, *req.aggregator)
	if err != nil {
		s.fail(w, r, "aggregating events", fmt.Errorf("aggregate events: %w", err))
		return
	}
	res := aggregateResult{Type: req.aggregator.Type, Field: req.aggregator.Field}
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		res.Value = &v
	}
	writeFormatted(w, out, http.StatusOK, res)
}

// parseListRequest reads the query and the optional search body of a list
// request.
func (s *Server) parseListRequest(w http.ResponseWriter, r *http.Request) (listRequest, error) {
	req := listRequest{page: 1, perPage: store.DefaultPerPage}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, invalid(fmt.Errorf("query: %w", err))
	}
	if req.filter, err = parseEventFilter(q); err != nil {
		return req, invalid(err)
	}
	if err := parseRange(q, &req.filter, time.Now()); err != nil {
		return req, invalid(err)
	}
	if req.aggregator, err = parseAggregator(q); err != nil {
		return req, invalid(err)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, invalid(fmt.Errorf("page: %q is not a number", v))
		}
		req.page = max(n, 1) // Vamp: below 1 means the first page
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, invalid(fmt.Errorf("per_page: %q is not a number", v))
		}
		req.perPageGiven = true
		switch {
		case n < 1:
			return req, invalid(fmt.Errorf("per_page: %d: want at least 1", n))
		case n > store.MaxPerPage:
			req.perPage = store.MaxPerPage // clamped, not refused; the links show the value used
		default:
			req.perPage = n
		}
	}
	if err := s.mergeSearchBody(w, r, &req); err != nil {
		return req, err
	}
	if err := req.filter.Validate(); err != nil {
		return req, invalid(err)
	}
	return req, nil
}

// mergeSearchBody adds the filters and aggregator of Vamp's search body, if
// the request has one, to those of the query.
func (s *Server) mergeSearchBody(w http.ResponseWriter, r *http.Request, req *listRequest) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	in, err := requestFormat(r)
	if err != nil {
		return err
	}
	f, agg, err := parseSearchBody(in, data)
	if err != nil {
		return invalid(fmt.Errorf("body: %w", err))
	}
	req.filter.Tags = append(req.filter.Tags, f.Tags...)
	if f.Type != "" {
		if req.filter.Type != "" && req.filter.Type != f.Type {
			return invalid(errors.New("type: given both in the query and in the body, with different values"))
		}
		req.filter.Type = f.Type
	}
	bounds := []struct {
		name      string
		dst, from **time.Time
	}{
		{"lt", &req.filter.Lt, &f.Lt}, {"lte", &req.filter.Lte, &f.Lte},
		{"gt", &req.filter.Gt, &f.Gt}, {"gte", &req.filter.Gte, &f.Gte},
	}
	for _, b := range bounds {
		if *b.from == nil {
			continue
		}
		if *b.dst != nil && !(*b.dst).Equal(**b.from) {
			return invalid(fmt.Errorf("%s: given both in the query and in the body, with different values", b.name))
		}
		*b.dst = *b.from
	}
	if agg != nil {
		if req.aggregator != nil && *req.aggregator != *agg {
			return invalid(errors.New("aggregator: given both in the query and in the body, with different values"))
		}
		req.aggregator = agg
	}
	return nil
}

// parseEventFilter reads the tag (repeatable, all required) and type query
// parameters shared by the list and the stream.
func parseEventFilter(q url.Values) (store.Filter, error) {
	var f store.Filter
	for _, t := range q["tag"] {
		if strings.TrimSpace(t) == "" {
			return f, errors.New("tag: empty tag")
		}
		f.Tags = append(f.Tags, t)
	}
	if v, ok := q["type"]; ok {
		if len(v) > 1 {
			return f, errors.New("type: given more than once")
		}
		if v[0] == "" {
			return f, errors.New("type: empty type")
		}
		f.Type = v[0]
	}
	return f, nil
}

// parseRange reads Vamp's timestamp bounds lt, lte, gt and gte: RFC 3339,
// Unix seconds, or a duration meaning that long before now (as since/until
// elsewhere in crowsnest).
func parseRange(q url.Values, f *store.Filter, now time.Time) error {
	for _, b := range []struct {
		name string
		dst  **time.Time
	}{{"lt", &f.Lt}, {"lte", &f.Lte}, {"gt", &f.Gt}, {"gte", &f.Gte}} {
		v := q.Get(b.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v, now)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		*b.dst = &t
	}
	return nil
}

// parseAggregator reads aggregator and field; nil when there is no aggregator.
func parseAggregator(q url.Values) (*store.Aggregator, error) {
	typ, field := q.Get("aggregator"), q.Get("field")
	if typ == "" {
		if field != "" {
			return nil, errors.New("field: only meaningful with aggregator")
		}
		return nil, nil
	}
	a := store.Aggregator{Type: typ, Field: field}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return &a, nil
}

// requestFormat is the format of the request body by its Content-Type. No
// Content-Type means JSON, Vamp's default; it reaches here only with the
// search body of GET or an empty body, since POST refuses an untyped body
// (auth.RequireContentType).
func requestFormat(r *http.Request) (body.Format, error) {
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return body.JSON, nil
	}
	f, err := body.FormatFromContentType(ct)
	if err != nil {
		return f, fmt.Errorf("content type: %w", err)
	}
	return f, nil
}

// readBody reads the whole request body, up to body.MaxSize: a larger
// one is too large (413), one that breaks off the caller's mistake (400).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, body.MaxSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, tooLarge(fmt.Errorf("body: larger than %d bytes", tooBig.Limit))
		}
		return nil, invalid(fmt.Errorf("read body: %w", err))
	}
	return data, nil
}

// pageLinks is the RFC 8288 Link header of a list page: first, prev (not on
// page 1), next (not on or past the last page) and last. The URLs are
// relative (path and query) and keep every other query parameter as the
// client wrote it, in its place; only page is set (added at the end when
// absent) and, when the client gave one, per_page is set to the value used.
// Past the end, prev points at the last page, where the results are.
func pageLinks(u *url.URL, page, last, perPage int, perPageGiven bool) string {
	link := func(p int, rel string) string {
		set := map[string]string{"page": strconv.Itoa(p)}
		if perPageGiven {
			set["per_page"] = strconv.Itoa(perPage)
		}
		return "<" + u.EscapedPath() + "?" + setQuery(u.RawQuery, set) + `>; rel="` + rel + `"`
	}
	links := []string{link(1, "first")}
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(last, "last"))
	return strings.Join(links, ", ")
}

// setQuery rewrites a raw query: the first occurrence of each key of set
// takes its value, later occurrences are dropped, keys not present are
// appended in a stable order. Every other parameter keeps its raw text and
// position.
func setQuery(raw string, set map[string]string) string {
	var parts []string
	done := map[string]bool{}
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if key, err := url.QueryUnescape(k); err == nil {
			if v, ok := set[key]; ok {
				if !done[key] {
					parts = append(parts, url.QueryEscape(key)+"="+url.QueryEscape(v))
					done[key] = true
				}
				continue
			}
		}
		// A raw '#' reaches the server inside the query (a request target
		// has no fragment), but in a link it would start one and cut off
		// the page parameters that follow.
		parts = append(parts, strings.ReplaceAll(p, "#", "%23"))
	}
	for _, key := range []string{"page", "per_page"} {
		if v, ok := set[key]; ok && !done[key] {
			parts = append(parts, key+"="+url.QueryEscape(v))
		}
	}
	return strings.Join(parts, "&")
}
