package docker

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

func TestEventRecordRoundTrip(t *testing.T) {
	m := events.Message{
		Type:   events.ContainerEventType,
		Action: events.ActionDie,
		Actor: events.Actor{ID: "f29698cac3f6", Attributes: map[string]string{
			"image": "busybox", "name": "test4", "exitCode": "0", "test3": "test3=test3",
		}},
		Time:     1476375852,
		TimeNano: 1476375852191659300,
	}
	ev := convert("edge", m)
	if ev.Status != "die" || ev.ID != "f29698cac3f6" || ev.From != "busybox" || ev.Host != "edge" {
		t.Errorf("convert = %+v", ev)
	}
	rec := EventRecord(ev)
	if rec.Type != wire.ContainerEventType {
		t.Errorf("type %q", rec.Type)
	}
	wantTags := []string{"container:test4", "image:busybox", "action:die", "host:edge"}
	if !slices.Equal(rec.Tags, wantTags) {
		t.Errorf("tags %v, want %v", rec.Tags, wantTags)
	}
	if !rec.Timestamp.Equal(time.Unix(0, 1476375852191659300)) {
		t.Errorf("timestamp %v", rec.Timestamp)
	}
	var frame map[string]any
	if err := json.Unmarshal(rec.Value, &frame); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "id", "from", "Type", "Action", "Actor", "time", "timeNano", "host"} {
		if _, ok := frame[k]; !ok {
			t.Errorf("frame lacks %q: %s", k, rec.Value)
		}
	}
	back, err := DecodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip = %+v, want %+v", back, ev)
	}
	if _, err := DecodeRecord(wire.Event{Type: "event", Value: rec.Value}); err == nil {
		t.Error("DecodeRecord accepted a non-container event")
	}
	if _, err := DecodeRecord(wire.Event{Type: wire.ContainerEventType, Value: json.RawMessage(`[`)}); err == nil {
		t.Error("DecodeRecord accepted broken JSON")
	}
}

func TestConvertKeepsEmptyAttributesAsObject(t *testing.T) {
	ev := convert("h", events.Message{Type: "container", Action: "start", Actor: events.Actor{ID: "x"}, Time: 2})
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var frame struct {
		Actor    struct{ Attributes json.RawMessage }
		TimeNano int64 `json:"timeNano"`
	}
	if err := json.Unmarshal(b, &frame); err != nil {
		t.Fatal(err)
	}
	if string(frame.Actor.Attributes) != "{}" {
		t.Errorf("Attributes = %s, want {}", frame.Actor.Attributes)
	}
	if frame.TimeNano != 2*int64(time.Second) {
		t.Errorf("timeNano = %d, want it derived from time", frame.TimeNano)
	}
}
