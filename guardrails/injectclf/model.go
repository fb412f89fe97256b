package injectclf

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
)

// magic opens a model file; the version is its last digit.
const magic = "RGINJ1\n\x00"

// DefaultMaxBytes is how much of a text Score reads by default (4 MiB, the
// rule-based detector's limit); the rest is not scored.
const DefaultMaxBytes = 4 << 20

//go:embed model.bin
var embedded []byte

// Model is a trained classifier. The zero value is not usable: get one from
// Default, Load or Train. A Model is read-only and safe for concurrent use.
type Model struct {
	bits    uint32
	window  int // bytes of normalized text per window
	stride  int // bytes between window starts
	scale   float32
	bias    float32
	weights []int8
	// MaxBytes limits how much of a text Score reads (DefaultMaxBytes when 0).
	MaxBytes int
	bufs     sync.Pool
}

var (
	defaultOnce  sync.Once
	defaultModel *Model
	defaultErr   error
)

// Default returns the embedded model, loaded once. An error means the
// binary was built with a damaged model.bin: rebuild it with
// scripts/train-injection.sh.
func Default() (*Model, error) {
	defaultOnce.Do(func() { defaultModel, defaultErr = Load(embedded) })
	return defaultModel, defaultErr
}

// ErrBadModel reports a model file that is not one this package wrote.
var ErrBadModel = errors.New("injectclf: not a valid model file")

// Load reads a model written by (*Model).MarshalBinary.
func Load(data []byte) (*Model, error) {
	const header = len(magic) + 4*5
	if len(data) < header+4 || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad magic or too short (%d bytes); rebuild it with scripts/train-injection.sh", ErrBadModel, len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (file damaged)", ErrBadModel)
	}
	le := binary.LittleEndian
	p := len(magic)
	m := &Model{
		bits:   le.Uint32(data[p:]),
		window: int(le.Uint32(data[p+4:])),
		stride: int(le.Uint32(data[p+8:])),
		scale:  math.Float32frombits(le.Uint32(data[p+12:])),
		bias:   math.Float32frombits(le.Uint32(data[p+16:])),
	}
	if m.bits < 8 || m.bits > 24 || m.window < 16 || m.stride < 1 || m.stride > m.window ||
		!isFinite(m.scale) || !isFinite(m.bias) {
		return nil, fmt.Errorf("%w: bad header (bits %d, window %d, stride %d)", ErrBadModel, m.bits, m.window, m.stride)
	}
	n := 1 << m.bits
	if len(body)-header != n {
		return nil, fmt.Errorf("%w: %d weights, want %d", ErrBadModel, len(body)-header, n)
	}
	m.weights = make([]int8, n)
	for i, b := range body[header:] {
		m.weights[i] = int8(b)
	}
	return m, nil
}

func isFinite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// MarshalBinary writes the model in the form Load reads.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(magic)
	le := binary.LittleEndian
	for _, v := range []uint32{m.bits, uint32(m.window), uint32(m.stride), math.Float32bits(m.scale), math.Float32bits(m.bias)} {
		_ = binary.Write(&b, le, v)
	}
	for _, w := range m.weights {
		b.WriteByte(byte(w))
	}
	_ = binary.Write(&b, le, crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes(), nil
}

// Window returns the window length and stride, in bytes of normalized text.
func (m *Model) Window() (length, stride int) { return m.window, m.stride }

type buffers struct {
	norm       []byte
	sum, count []int32
}

// Score returns the probability in [0,1] that text carries a prompt
// injection: the score of its most suspicious window.
func (m *Model) Score(text string) float64 {
	limit := m.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(text) > limit {
		text = text[:limit]
	}
	bp, _ := m.bufs.Get().(*buffers)
	if bp == nil {
		bp = &buffers{}
	}
	defer m.bufs.Put(bp)
	bp.norm = normalize(bp.norm, text)
	b := bp.norm
	n := len(b) + 1
	bp.sum = grow(bp.sum, n)
	bp.count = grow(bp.count, n)
	sum, count := bp.sum, bp.count
	mask := uint32(1)<<m.bits - 1
	w := m.weights
	visit(b, mask, func(pos int, idx uint32) {
		sum[pos+1] += int32(w[idx])
		count[pos+1]++
	})
	for i := 1; i < n; i++ { // prefix sums
		sum[i] += sum[i-1]
		count[i] += count[i-1]
	}
	best := math.Inf(-1)
	eachWindow(len(b), m.window, m.stride, func(lo, hi int) {
		c := count[hi] - count[lo]
		if c == 0 {
			return
		}
		z := float64(m.bias) + float64(m.scale)*float64(sum[hi]-sum[lo])/math.Sqrt(float64(c))
		best = max(best, z)
	})
	if math.IsInf(best, -1) {
		return 0
	}
	return 1 / (1 + math.Exp(-best))
}

// eachWindow calls f for the windows [lo,hi) over n positions: one window
// when n ≤ length, else windows every stride, the last one ending at n.
func eachWindow(n, length, stride int, f func(lo, hi int)) {
	if n <= length {
		f(0, n)
		return
	}
	for lo := 0; ; lo += stride {
		if lo+length >= n {
			f(n-length, n)
			return
		}
		f(lo, lo+length)
	}
}

func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
