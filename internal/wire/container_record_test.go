package wire

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestContainerRecordRoundTrip(t *testing.T) {
	ev := ContainerEvent{
		Status: "die", ID: "f29698cac3f6", From: "busybox", Type: "container", Action: "die",
		Actor: Actor{ID: "f29698cac3f6", Attributes: map[string]string{
			"image": "busybox", "name": "test4", "exitCode": "0", "test3": "test3=test3",
		}},
		Time: 1476375852, TimeNano: 1476375852191659300, Host: "edge",
	}
	rec := ev.Record()
	if rec.Type != ContainerEventType {
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
	back, err := DecodeContainerEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip = %+v, want %+v", back, ev)
	}
	if _, err := DecodeContainerEvent(Event{Type: "event", Value: rec.Value}); err == nil {
		t.Error("DecodeContainerEvent accepted a non-container event")
	}
	if _, err := DecodeContainerEvent(Event{Type: ContainerEventType, Value: json.RawMessage(`[`)}); err == nil {
		t.Error("DecodeContainerEvent accepted broken JSON")
	}
}
