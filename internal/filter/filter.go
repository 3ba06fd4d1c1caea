// Package filter parses Docker-style event filters and matches container
// events against them with the engine's own semantics.
//
// A filter is the JSON value of the "filters" query parameter of
// /events/ws, in either of the two forms Docker clients send:
//
//	{"event":{"start":true},"label":{"env=prod":true}}   (map of sets, docker CLI)
//	{"event":["start"],"label":["env=prod"]}             (map of lists, Hyper's doc)
//
// Values of one key OR, keys AND, except "label" whose values AND. One
// deliberate difference from the engine: without an "event" key only
// "start" and "stop" events match, because that is what Hyper's "Monitor
// events" document promises a plain GET /events/ws; an "event" key may name
// any container action to widen (or narrow) that.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// Limits on the size of a filter. A filter is matched against every event of
// every stream, so an unbounded one would let a single client make every
// broadcast slow; real filters have a handful of values.
const (
	// MaxValuesPerKey bounds the distinct values one key may have.
	MaxValuesPerKey = 100
	// MaxValues bounds the distinct values of all keys together.
	MaxValues = 1000
)

// The keys Parse accepts.
const (
	keyContainer = "container"
	keyImage     = "image"
	keyEvent     = "event"
	keyLabel     = "label"
	keyHost      = "host"
	keyType      = "type"
)

// validKeys is listed in error messages, so it is sorted.
var validKeys = []string{keyContainer, keyEvent, keyHost, keyImage, keyLabel, keyType}

// containerActions are the actions the Docker daemon logs for containers
// (moby's api/types/events and the daemon's LogContainerEvent calls,
// including archive-path, extract-to-dir and checkpoint which the CLI
// documentation omits). An event filter naming anything else can never match,
// so it is almost certainly a typo and is refused rather than silently
// producing an empty stream. Sorted: it is listed in error messages.
var containerActions = []string{
	"archive-path", "attach", "checkpoint", "commit", "copy", "create",
	"destroy", "detach", "die", "exec_create", "exec_detach", "exec_die",
	"exec_start", "export", "extract-to-dir", "health_status", "kill", "oom",
	"pause", "prune", "rename", "resize", "restart", "start", "stop", "top",
	"unpause", "update",
}

// detailedActions are the actions the daemon suffixes with ": " and a detail
// ("exec_start: sh -c date", "health_status: healthy"). A filter may name the
// bare action, matching every detail, or the full string.
var detailedActions = []string{"exec_create", "exec_start", "health_status"}

// Filters is a parsed filter. The zero value has no keys: it matches every
// start and stop event (see Match). A Filters is never modified after Parse,
// so one value may be shared by goroutines and copied freely.
type Filters struct {
	containers []string // leading "/" removed, matched as ID or name prefix
	images     []imageRef
	events     []string // exact actions, or bare detailed actions
	labels     []label
	hosts      []string
	typ        bool // "type":["container"] given
}

type label struct {
	key, value string
	hasValue   bool // "key=" demands an empty value, "key" any value
}

// Parse reads the "filters" query value. An empty (or all-space) string means
// no filters. Entries set to false in the object form are ignored, and a key
// left with no values counts as absent. The error names the offending key or
// value; its text is meant to be shown to the client as is.
func Parse(s string) (Filters, error) {
	var f Filters
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return f, fmt.Errorf(`invalid filters: want a JSON object such as {"event":["start"]}, got a JSON %s`, te.Value)
		}
		return f, fmt.Errorf("invalid filters: malformed JSON: %v", err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	// Sorted so that, of several problems, the same one is always reported.
	slices.Sort(keys)
	total := 0
	for _, k := range keys {
		if !slices.Contains(validKeys, k) {
			return Filters{}, fmt.Errorf("invalid filters: unknown filter key %q (valid keys: %s)", k, strings.Join(validKeys, ", "))
		}
		vals, err := values(k, raw[k])
		if err != nil {
			return Filters{}, err
		}
		if len(vals) > MaxValuesPerKey {
			return Filters{}, fmt.Errorf("invalid filters: filter %q has %d values, at most %d are allowed", k, len(vals), MaxValuesPerKey)
		}
		total += len(vals)
		if total > MaxValues {
			return Filters{}, fmt.Errorf("invalid filters: more than %d values in all", MaxValues)
		}
		for _, v := range vals {
			if err := f.add(k, v); err != nil {
				return Filters{}, err
			}
		}
	}
	return f, nil
}

// values decodes one key's values from either JSON form, drops the false
// entries of the object form, and returns them sorted without duplicates.
func values(key string, raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var vals []string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '{':
		var set map[string]bool
		if err := json.Unmarshal(raw, &set); err != nil {
			return nil, fmt.Errorf(`invalid filters: filter %q: want {"value":true,…}: %v`, key, err)
		}
		for v, on := range set {
			if on {
				vals = append(vals, v)
			}
		}
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &vals); err != nil {
			return nil, fmt.Errorf(`invalid filters: filter %q: want ["value",…]: %v`, key, err)
		}
	default:
		return nil, fmt.Errorf(`invalid filters: filter %q: want an object {"value":true} or a list ["value"], got %s`, key, clip(string(raw)))
	}
	slices.Sort(vals)
	return slices.Compact(vals), nil
}

// add validates v and stores it in its parsed form, so Match does no parsing
// of the filter itself.
func (f *Filters) add(key, v string) error {
	// An empty label names the attribute "" (Hyper's example event carries
	// one); everywhere else an empty value would match everything or nothing,
	// which no client means.
	if v == "" && key != keyLabel {
		return fmt.Errorf("invalid filters: filter %q has an empty value", key)
	}
	switch key {
	case keyContainer:
		n := strings.TrimPrefix(v, "/")
		if n == "" {
			return fmt.Errorf("invalid filters: filter %q has an empty value", key)
		}
		f.containers = append(f.containers, n)
	case keyImage:
		f.images = append(f.images, parseImage(v))
	case keyEvent:
		if !validAction(v) {
			return fmt.Errorf("invalid filters: unknown event %q: not a Docker container action (valid: %s)", clip(v), strings.Join(containerActions, ", "))
		}
		f.events = append(f.events, v)
	case keyLabel:
		k, val, ok := strings.Cut(v, "=")
		f.labels = append(f.labels, label{key: k, value: val, hasValue: ok})
	case keyHost:
		f.hosts = append(f.hosts, v)
	case keyType:
		if v != wire.ContainerEventType {
			return fmt.Errorf("invalid filters: type %q is not available: this stream carries only %q events", clip(v), wire.ContainerEventType)
		}
		f.typ = true
	}
	return nil
}

// validAction reports whether v is a container action, bare or, for the
// actions that carry one, with its ": detail".
func validAction(v string) bool {
	if slices.Contains(containerActions, v) {
		return true
	}
	base, detail, ok := strings.Cut(v, ": ")
	return ok && detail != "" && slices.Contains(detailedActions, base)
}

// clip keeps error messages short when a client sends a huge value.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i-- // cut on a rune boundary so the message stays valid UTF-8
	}
	return s[:i] + "…"
}

// Match reports whether ev passes the filter, with Docker's semantics:
//
//   - keys AND; the values of one key OR, except label values, which AND;
//   - event: the action equals a value, or the action's part before ": "
//     does ("health_status" matches "health_status: healthy"). Without an
//     event key only "start" and "stop" match: the Hyper contract;
//   - container: a value is a prefix of (or equals) the container ID or its
//     name, a leading "/" ignored on both sides;
//   - image: the event's image (the "image" attribute, else "from") names the
//     same repository, "docker.io/library/" (or Podman's "localhost/" of
//     local images) spelled out or not; a value with
//     a tag also needs that tag (an untagged image counts as ":latest"), a
//     value with a digest needs that digest;
//   - label: "key" needs the attribute to exist (any value), "key=value"
//     needs that value (split at the first "="; "key=" means empty);
//   - host: the event's engine name equals a value;
//   - type: the event is a container event.
func (f Filters) Match(ev wire.ContainerEvent) bool {
	return f.matchAction(ev) &&
		(!f.typ || ev.Type == wire.ContainerEventType) &&
		(len(f.hosts) == 0 || slices.Contains(f.hosts, ev.Host)) &&
		f.matchContainer(ev) &&
		f.matchImage(ev) &&
		f.matchLabels(ev.Actor.Attributes)
}

// MatchContainer is Match without the event key: it reports whether the
// container ev is about passes the filter, whatever the action. Alert rules
// on logs and stats, which have no action, select containers with it.
func (f Filters) MatchContainer(ev wire.ContainerEvent) bool {
	return (!f.typ || ev.Type == wire.ContainerEventType) &&
		(len(f.hosts) == 0 || slices.Contains(f.hosts, ev.Host)) &&
		f.matchContainer(ev) &&
		f.matchImage(ev) &&
		f.matchLabels(ev.Actor.Attributes)
}

// HasEvents reports whether the filter names actions (an "event" key).
func (f Filters) HasEvents() bool { return len(f.events) > 0 }

// Events returns the actions the "event" key names, each as given (a bare
// action or one with its ": detail"), so a caller can index filters by
// action. The slice is shared: do not change it.
func (f Filters) Events() []string { return f.events }

func (f Filters) matchAction(ev wire.ContainerEvent) bool {
	action := ev.Action
	if action == "" {
		// Events from before API 1.22 only have the legacy status.
		action = ev.Status
	}
	if len(f.events) == 0 {
		return action == "start" || action == "stop"
	}
	// Docker goes fuzzy (prefix) for all values as soon as one is a bare
	// detailed action, so "st" would then match "start"; comparing the part
	// before ": " gives the intended result without that surprise.
	base, _, _ := strings.Cut(action, ": ")
	for _, e := range f.events {
		if e == action || e == base {
			return true
		}
	}
	return false
}

func (f Filters) matchContainer(ev wire.ContainerEvent) bool {
	if len(f.containers) == 0 {
		return true
	}
	id := ev.Actor.ID
	if id == "" {
		id = ev.ID
	}
	name := ev.Name()
	for _, c := range f.containers {
		if (id != "" && strings.HasPrefix(id, c)) || (name != "" && strings.HasPrefix(name, c)) {
			return true
		}
	}
	return false
}

func (f Filters) matchImage(ev wire.ContainerEvent) bool {
	if len(f.images) == 0 {
		return true
	}
	img := ev.Image()
	if img == "" {
		return false
	}
	// Parsed only when some value is not a verbatim match, which is the
	// common case only for filters by repository.
	var ref imageRef
	parsed := false
	for _, want := range f.images {
		if want.raw == img {
			return true
		}
		if !parsed {
			ref, parsed = parseImage(img), true
		}
		if want.matches(ref) {
			return true
		}
	}
	return false
}

func (f Filters) matchLabels(attrs map[string]string) bool {
	for _, l := range f.labels {
		v, ok := attrs[l.key]
		if !ok || (l.hasValue && v != l.value) {
			return false
		}
	}
	return true
}

// imageRef is an image reference split into a familiar repository name
// ("busybox", "user/app", "ghcr.io/o/app"), a tag and a digest, so that the
// spellings Docker treats as one image compare equal.
type imageRef struct {
	raw    string
	name   string
	tag    string
	digest string
}

// parseImage splits s leniently: it never fails, because an event may carry
// anything the engine accepted (an image ID, say), and a value that is not a
// valid reference still matches itself verbatim.
func parseImage(s string) imageRef {
	r := imageRef{raw: s}
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, r.digest = name[:i], name[i+1:]
	}
	// A ":" after the last "/" starts the tag; one before it belongs to a
	// registry's port ("localhost:5000/app").
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i+1:], "/") {
		name, r.tag = name[:i], name[i+1:]
	}
	r.name = familiarName(name)
	return r
}

// familiarName removes what Docker adds when it normalizes a name: the
// default registry and, for single-component names, "library/"; and
// Podman's "localhost/" of local images.
func familiarName(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		domain := name[:i]
		switch domain {
		case "docker.io", "index.docker.io", "registry-1.docker.io":
			name = name[i+1:]
		case "localhost":
			// Podman names the images it built or loaded locally
			// localhost/NAME, where Docker names them NAME: one image
			// to a user watching both.
			name = name[i+1:]
		default:
			if strings.ContainsAny(domain, ".:") {
				return name // another registry: nothing to remove
			}
		}
	}
	if rest, ok := strings.CutPrefix(name, "library/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return name
}

// matches reports whether the event's image ev is the image the filter value
// r names.
func (r imageRef) matches(ev imageRef) bool {
	if r.name != ev.name {
		return false
	}
	if r.digest != "" {
		// A digest pins the content, so any tag written beside it is noise.
		return r.digest == ev.digest
	}
	if r.tag != "" {
		tag := ev.tag
		if tag == "" && ev.digest == "" {
			tag = "latest" // what "docker run busybox" resolves to
		}
		return tag == r.tag
	}
	return true
}
