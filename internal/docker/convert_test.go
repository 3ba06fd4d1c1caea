package docker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

func TestConvert(t *testing.T) {
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
