package injectclf

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// magic opens a model file; the version is its last digit.
const magic = "RGINJ2\n\x00"

// headerWords is the number of 32-bit header fields after the magic: bits,
// window, stride, scale, bias, n-gram lengths, word features.
const headerWords = 7

// DefaultMaxBytes is how much of a text Score reads by default (4 MiB, the
// rule-based detector's limit); the rest is not scored.
const DefaultMaxBytes = 4 << 20

//go:embed model.bin
var embedded []byte

// Model is a trained classifier. The zero value is not usable: get one from
// Default, Load or Train. A Model is read-only and safe for concurrent use.
type Model struct {
	bits    uint32
	feat    features
	window  int // bytes of normalized text per window (a multiple of stride)
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
	const header = len(magic) + 4*headerWords
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
		feat:   features{grams: le.Uint32(data[p+20:]), words: le.Uint32(data[p+24:])},
	}
	if m.bits < 8 || m.bits > 24 || m.stride < 1 || m.stride > 1<<16 || m.window < m.stride || m.window > 1<<20 ||
		m.window%m.stride != 0 || !m.feat.valid() || !isFinite(m.scale) || !isFinite(m.bias) {
		return nil, fmt.Errorf("%w: bad header (bits %d, window %d, stride %d, features %+v)", ErrBadModel, m.bits, m.window, m.stride, m.feat)
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
	for _, v := range []uint32{m.bits, uint32(m.window), uint32(m.stride), math.Float32bits(m.scale), math.Float32bits(m.bias),
		m.feat.grams, m.feat.words} {
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
	norm, scratch []byte
	sum, count    []int32
	edges         []int32 // word starts and ends
	iter          norm.Iter
}

// Score returns the probability in [0,1] that text carries a prompt
// injection: the score of its most suspicious window. It allocates nothing
// once its pooled buffers have grown to the text's size.
func (m *Model) Score(text string) float64 {
	bp, _ := m.bufs.Get().(*buffers)
	if bp == nil {
		bp = &buffers{}
	}
	defer m.bufs.Put(bp)
	return m.score(text, bp)
}

// score is Score with the caller's buffers, which it grows as needed.
func (m *Model) score(text string, bp *buffers) float64 {
	text = m.clip(text)
	bp.norm, bp.scratch = normalize(bp.norm, text, bp.scratch, &bp.iter)
	n := len(bp.norm)
	nb := (n + m.stride - 1) / m.stride
	bp.sum = grow(bp.sum, nb)
	bp.count = grow(bp.count, nb) // each entry is set
	m.blockSums(bp.norm[:n+pad], n, bp.sum, bp.count, &bp.edges)
	return m.maxWindow(bp.sum, bp.count)
}

// clip cuts text to MaxBytes (DefaultMaxBytes when 0).
func (m *Model) clip(text string) string {
	limit := m.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	return text[:min(len(text), limit)]
}

// blockSums adds up, per stride-long block of the normalized text b[:n]
// (followed by pad zero bytes), the weights of its features and their
// number: the features of features.walk, one pass per n-gram length and
// one for the words (each pass a short loop that keeps its state in
// registers).
func (m *Model) blockSums(b []byte, n int, sum, count []int32, edges *[]int32) {
	masks, muls, ng := m.feat.gramMasks()
	wmask := uint64(len(m.weights) - 1)
	b = b[:n+pad]
	for blk, lo := 0, 0; lo < n && blk < len(sum) && blk < len(count); blk, lo = blk+1, lo+m.stride {
		seg := b[lo : min(lo+m.stride, n)+pad-1]
		var s int32
		for j := 0; j < ng && j < len(masks); j++ {
			s += gramSum(seg, m.weights, masks[j], muls[j], wmask)
		}
		sum[blk] = s
		count[blk] = int32(ng * (len(seg) - pad + 1))
	}
	if m.feat.words > 0 {
		*edges = wordEdges(b, n, (*edges)[:0])
		wordSums(b, *edges, m.stride, m.weights, wmask, m.feat.words == 2, sum, count)
	}
}

// gramSum is the sum of the weights of the n-grams (mask selects the
// n-gram's bytes of an 8-byte load) at each position of seg but its last 7
// bytes. Small and not inlined, so that its loop runs in registers.
//
//go:noinline
func gramSum(seg []byte, w []int8, mask, mul, wmask uint64) int32 {
	var s int32
	for i := 0; i < len(seg)-7; i++ {
		x := binary.LittleEndian.Uint64(seg[i : i+8])
		s += int32(w[gramIndex(x, mask, mul, wmask)])
	}
	return s
}

// wordEdges appends to edges the start and end of every word of b[:n]
// (b[n-1] is a space, so every word ends before n; the bytes after n are
// zero), reading eight bytes at a time (wordMask) and visiting only word
// edges.
//
//go:noinline
func wordEdges(b []byte, n int, edges []int32) []int32 {
	if cap(edges) < n+8 {
		edges = make([]int32, 0, n+n/4+8) // at most one edge per byte
	}
	edges = edges[:cap(edges)]
	k := 0
	var carry uint64 // 0x80 when the byte before the chunk is a word byte
	for p := 0; p < n && p+8 <= len(b); p += 8 {
		wm := wordMask(binary.LittleEndian.Uint64(b[p : p+8]))
		before := wm<<8 | carry
		carry = wm >> 56
		// Starts and ends alternate, a start first: merged in order, the
		// edges of one chunk are its set bits in position order.
		for e := (wm ^ before) & tops; e != 0 && k < len(edges); e &= e - 1 {
			edges[k] = int32(p + bits.TrailingZeros64(e)/8)
			k++
		}
	}
	return edges[:k]
}

// wordSums adds the word (and word pair) features per block, given the
// word edges (start, end, start, end, …): each word counts in the block of
// the byte that ends it.
//
//go:noinline
func wordSums(b []byte, edges []int32, stride int, w []int8, wmask uint64, pairs bool, sum, count []int32) {
	var prev uint64
	hasPrev := false
	blk, next := 0, int32(stride) // the block of the current word end, and where the next block starts
	var s, c int32                // the current block's word features
	for k := 1; k < len(edges); k += 2 {
		e := edges[k]
		if e >= next {
			sum[blk] += s
			count[blk] += c
			s, c = 0, 0
			for e >= next {
				blk, next = blk+1, next+int32(stride)
			}
		}
		h := wordHash(b, int(edges[k-1]), int(e))
		s += int32(w[hashIndex(h, wordMul, wmask)])
		c++
		if pairs && hasPrev {
			s += int32(w[hashIndex(pairHash(prev, h), wordMul, wmask)])
			c++
		}
		prev, hasPrev = h, true
	}
	if c > 0 {
		sum[blk] += s
		count[blk] += c
	}
}

// maxWindow returns the probability of the most suspicious window: windows
// are window/stride consecutive blocks, one per block start (a single
// window when the text is shorter than one).
func (m *Model) maxWindow(sum, count []int32) float64 {
	per := m.window / m.stride
	best := math.Inf(-1)
	eachWindow(len(sum), per, func(lo, hi int) {
		var s, c int32
		for k := lo; k < hi; k++ {
			s += sum[k]
			c += count[k]
		}
		if c == 0 {
			return
		}
		best = max(best, float64(m.bias)+float64(m.scale)*float64(s)/math.Sqrt(float64(c)))
	})
	if math.IsInf(best, -1) {
		return 0
	}
	return 1 / (1 + math.Exp(-best))
}

// eachWindow calls f for the windows [lo,hi) of per consecutive blocks out
// of nb: one window when nb ≤ per, else one starting at each block.
func eachWindow(nb, per int, f func(lo, hi int)) {
	if nb <= per {
		f(0, nb)
		return
	}
	for lo := 0; lo+per <= nb; lo++ {
		f(lo, lo+per)
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
