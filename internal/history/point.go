package history

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// point is one stored step of a series. The figures are those of
// wire.StatsPoint; they are floats here because coarse points are means.
type point struct {
	t                        int64 // unix seconds, start of the step
	cpu, mem, memBytes       float64
	netRx, netTx, blkR, blkW float64
}

// encode appends the value of p to dst: seven unsigned varints, CPU and
// memory in hundredths of a percent, memory in KiB, rates in whole bytes
// per second. An idle container's point is 7 to 10 bytes; the time is in
// the key.
func (p point) encode(dst []byte) []byte {
	for _, v := range [...]float64{p.cpu * 100, p.mem * 100, p.memBytes / 1024, p.netRx, p.netTx, p.blkR, p.blkW} {
		if !(v > 0) { // negative or NaN: a figure that means nothing
			v = 0
		}
		dst = binary.AppendUvarint(dst, uint64(math.Round(v)))
	}
	return dst
}

var errBadPoint = errors.New("history: malformed point")

// decodePoint reads a value written by encode.
func decodePoint(t int64, b []byte) (point, error) {
	var v [7]uint64
	for i := range v {
		n, size := binary.Uvarint(b)
		if size <= 0 {
			return point{}, errBadPoint
		}
		v[i], b = n, b[size:]
	}
	return point{
		t:   t,
		cpu: float64(v[0]) / 100, mem: float64(v[1]) / 100, memBytes: float64(v[2] * 1024),
		netRx: float64(v[3]), netTx: float64(v[4]), blkR: float64(v[5]), blkW: float64(v[6]),
	}, nil
}

// add sums q into p, figure by figure.
func (p *point) add(q point) {
	p.cpu += q.cpu
	p.mem += q.mem
	p.memBytes += q.memBytes
	p.netRx += q.netRx
	p.netTx += q.netTx
	p.blkR += q.blkR
	p.blkW += q.blkW
}

// scale multiplies every figure by f.
func (p *point) scale(f float64) {
	p.cpu *= f
	p.mem *= f
	p.memBytes *= f
	p.netRx *= f
	p.netTx *= f
	p.blkR *= f
	p.blkW *= f
}

// downsample turns time-ordered points into one point per step of res
// seconds, each the mean of the points in it. Steps without points stay
// absent: that is how gaps are kept.
func downsample(pts []point, res int64) []point {
	var out []point
	n := 0
	for _, p := range pts {
		step := p.t - p.t%res
		if len(out) == 0 || out[len(out)-1].t != step {
			if n > 0 {
				out[len(out)-1].scale(1 / float64(n))
			}
			out = append(out, point{t: step})
			n = 0
		}
		out[len(out)-1].add(p)
		n++
	}
	if n > 0 {
		out[len(out)-1].scale(1 / float64(n))
	}
	return out
}

// wire converts a point for the API.
func (p point) wire() wire.StatsPoint {
	return wire.StatsPoint{
		T:   time.Unix(p.t, 0).UTC(),
		CPU: p.cpu, Memory: p.mem, MemoryBytes: uint64(p.memBytes),
		NetRx: p.netRx, NetTx: p.netTx, BlockRead: p.blkR, BlockWrite: p.blkW,
	}
}

// pointKey is a series' point key: the series number then the time, both
// big-endian, so a series' points are contiguous and in time order.
func pointKey(sid uint32, t int64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint32(k, sid)
	binary.BigEndian.PutUint32(k[4:], uint32(t))
	return k
}

// splitKey reads a point key.
func splitKey(k []byte) (sid uint32, t int64) {
	return binary.BigEndian.Uint32(k), int64(binary.BigEndian.Uint32(k[4:]))
}
