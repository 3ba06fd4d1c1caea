package history

import (
	"math"
	"testing"
)

func TestPointEncodingRoundTrips(t *testing.T) {
	p := point{t: 7, cpu: 99.87, mem: 12.34, memBytes: 256 << 20, netRx: 12345, netTx: 3, blkR: 0, blkW: 1 << 30}
	b := p.encode(nil)
	got, err := decodePoint(7, b)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("decoded %+v, want %+v", got, p)
	}
	idle := point{cpu: 0.02, mem: 0.5, memBytes: 2 << 20}.encode(nil)
	if len(idle) > 10 {
		t.Errorf("an idle container's point takes %d bytes, want at most 10", len(idle))
	}
	bad, err := decodePoint(0, point{cpu: math.NaN(), mem: -3}.encode(nil))
	if err != nil || bad.cpu != 0 || bad.mem != 0 {
		t.Errorf("NaN and negative figures: got %+v, %v; want zeros", bad, err)
	}
	if _, err := decodePoint(0, b[:3]); err == nil {
		t.Error("a truncated point decoded without error")
	}
}

func TestDownsampleMeansStepsAndKeepsGaps(t *testing.T) {
	pts := []point{
		{t: 600, cpu: 10}, {t: 610, cpu: 20}, {t: 650, cpu: 30}, // step 600: mean 20
		// no point in step 660: a gap
		{t: 720, cpu: 100, netRx: 50}, {t: 730, cpu: 0, netRx: 150}, // step 720: mean 50, 100
	}
	got := downsample(pts, 60)
	want := []point{{t: 600, cpu: 20}, {t: 720, cpu: 50, netRx: 100}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
