package tinylm

import (
	"math"
	"slices"
)

// prefillChunk is how many prompt tokens go through the layers together:
// each weight row is then read once per chunk instead of once per token.
const prefillChunk = 32

// session is the state of one sequence: the KV cache of every layer and
// scratch buffers, so the per-token loop allocates nothing.
type session struct {
	m   *Model
	cap int // positions the cache holds
	pos int // positions filled
	// last holds the last tokens fed, most recent first: the previous
	// tokens of the next position (<|pad|> before the sequence's start).
	last [MaxPrevTokens]int
	// toks are the tokens whose keys and values the cache holds, one per
	// position filled (len(toks) == pos after each chunk).
	toks []int

	k, v [][]float32 // per layer: [n_head, cap, d/n_head]

	x, h, qkv, att, fc []float32 // [chunk, width]
	scores             []float32 // [cap]
	hidden             []float32 // [d]
	logits             []float32 // [vocab]
}

// maxCachedSessions is how many finished sessions a model keeps, with
// their keys and values, for a later prompt that starts the same way (the
// next turn of a conversation, a refinement of the same task).
const maxCachedSessions = 8

// acquire returns a session for a generation over prompt that needs
// capacity positions, and how many of prompt's first tokens its cache
// already holds: the longest prefix any cached session shares with
// prompt, less one, so that at least the last token is fed and its logits
// computed. The keys and values of a position depend only on the tokens
// up to it and every kernel computes a position alone, so a reused prefix
// gives bit-for-bit the logits of a fresh pass.
func (m *Model) acquire(prompt []int, capacity int) (*session, int) {
	capacity = min(max(capacity, 1), m.cfg.MaxSeq)
	m.cacheMu.Lock()
	best, shared := -1, 0
	for i, s := range m.cached {
		if n := commonPrefix(s.toks, prompt); n > shared {
			best, shared = i, n
		}
	}
	var old *session
	if best >= 0 {
		old = m.cached[best]
		m.cached = slices.Delete(m.cached, best, best+1)
	}
	m.cacheMu.Unlock()
	shared = min(shared, len(prompt)-1)
	if old == nil || shared <= 0 {
		if old != nil {
			m.sessions.Put(old)
		}
		return m.newSession(capacity), 0
	}
	s := old
	if old.cap < capacity {
		s = m.newSession(capacity)
		s.copyPrefix(old, shared)
		m.sessions.Put(old)
	}
	s.rewind(shared)
	return s, shared
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// copyPrefix copies the first n positions of from's cache into s.
func (s *session) copyPrefix(from *session, n int) {
	hd := s.m.cfg.DModel / s.m.cfg.NHead
	for l := range s.k {
		for h := range s.m.cfg.NHead {
			copy(s.k[l][h*s.cap*hd:(h*s.cap+n)*hd], from.k[l][h*from.cap*hd:(h*from.cap+n)*hd])
			copy(s.v[l][h*s.cap*hd:(h*s.cap+n)*hd], from.v[l][h*from.cap*hd:(h*from.cap+n)*hd])
		}
	}
	s.toks = append(s.toks[:0], from.toks[:n]...)
}

// rewind keeps the first n positions of the cache (n ≤ len(s.toks)) and
// the previous tokens of position n.
func (s *session) rewind(n int) {
	s.pos = n
	s.toks = s.toks[:n]
	for k := range s.last {
		s.last[k] = TokPad
		if n-1-k >= 0 {
			s.last[k] = s.toks[n-1-k]
		}
	}
}

// newSession returns an empty session whose cache holds capacity positions
// (at most the model's max_seq), reusing a pooled one when it is big enough.
func (m *Model) newSession(capacity int) *session {
	capacity = min(max(capacity, 1), m.cfg.MaxSeq)
	if s, ok := m.sessions.Get().(*session); ok && s.cap >= capacity {
		s.reset()
		return s
	}
	d, nl := m.cfg.DModel, m.cfg.NLayer
	s := &session{m: m, cap: capacity, toks: make([]int, 0, capacity)}
	s.reset()
	kv := make([]float32, 2*nl*capacity*d)
	s.k, s.v = make([][]float32, nl), make([][]float32, nl)
	for l := range nl {
		s.k[l] = kv[(2*l)*capacity*d : (2*l+1)*capacity*d]
		s.v[l] = kv[(2*l+1)*capacity*d : (2*l+2)*capacity*d]
	}
	s.x = make([]float32, prefillChunk*d)
	s.h = make([]float32, prefillChunk*d)
	s.att = make([]float32, prefillChunk*d)
	s.qkv = make([]float32, prefillChunk*3*d)
	s.fc = make([]float32, prefillChunk*4*d)
	s.scores = make([]float32, capacity)
	s.hidden = make([]float32, d)
	s.logits = make([]float32, m.cfg.VocabSize)
	return s
}

// reset empties the session for a new sequence.
func (s *session) reset() { s.rewind(0) }

// release keeps the session for a later prompt with the same beginning
// (acquire), handing the least recently released one back to the pool
// when maxCachedSessions are kept.
func (m *Model) release(s *session) {
	m.cacheMu.Lock()
	m.cached = append(m.cached, s)
	var out *session
	if len(m.cached) > maxCachedSessions {
		out = m.cached[0]
		m.cached = slices.Delete(m.cached, 0, 1)
	}
	m.cacheMu.Unlock()
	if out != nil {
		m.sessions.Put(out)
	}
}

// checkIDs reports the first id outside the vocabulary.
func (m *Model) checkIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= m.cfg.VocabSize {
			return invalidf("token %d at position %d is outside the vocabulary of %d", id, i, m.cfg.VocabSize)
		}
	}
	return nil
}

// Logits runs the model over ids (one sequence, at most max_seq tokens) and
// returns the logits of every position, [len(ids)][vocab].
func (m *Model) Logits(ids []int) ([][]float32, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > m.cfg.MaxSeq {
		return nil, invalidf("%d tokens exceed the model's context of %d", len(ids), m.cfg.MaxSeq)
	}
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	s := m.newSession(len(ids))
	defer m.release(s)
	out := make([][]float32, 0, len(ids))
	s.feed(ids, func(logits []float32) {
		out = append(out, append([]float32(nil), logits...))
	})
	return out, nil
}

// feed runs ids (already checked, fitting in the cache) through the model
// at the next positions and returns the logits of the last one, in a buffer
// the next call overwrites. When every is set it also receives the logits
// of each position.
func (s *session) feed(ids []int, every func([]float32)) []float32 {
	for len(ids) > 0 {
		n := min(len(ids), prefillChunk)
		s.chunk(ids[:n], every != nil || n == len(ids), every)
		ids = ids[n:]
	}
	return s.logits
}

// chunk runs up to prefillChunk tokens through every block; with withLogits
// it computes the logits of the chunk's last token (and of each token, when
// every is set).
func (s *session) chunk(ids []int, withLogits bool, every func([]float32)) {
	m := s.m
	d, T := m.cfg.DModel, len(ids)
	s.toks = append(s.toks[:s.pos], ids...)
	x := s.x[:T*d]
	for t, id := range ids {
		row := x[t*d : (t+1)*d]
		tok := m.tokEmb[id*d : (id+1)*d]
		pos := m.posEmb[(s.pos+t)*d : (s.pos+t+1)*d]
		for i := range row {
			row[i] = tok[i] + pos[i]
		}
		for k, emb := range m.prevEmb {
			prev := emb[s.last[k]*d : (s.last[k]+1)*d]
			for i := range row {
				row[i] += prev[i]
			}
		}
		if n := len(m.prevEmb); n > 0 {
			copy(s.last[1:n], s.last[:n-1])
			s.last[0] = id
		}
	}
	h, att, qkv, fc := s.h[:T*d], s.att[:T*d], s.qkv[:T*3*d], s.fc[:T*4*d]
	for li := range m.layers {
		l := &m.layers[li]
		layerNorm(h, x, l.ln1W, l.ln1B, d)
		linear(qkv, h, l.qkvW, l.qkvB, d, 3*d)
		s.attend(li, att, qkv, T)
		linear(h, att, l.projW, l.projB, d, d)
		add(x, h)
		layerNorm(h, x, l.ln2W, l.ln2B, d)
		linear(fc, h, l.fcW, l.fcB, d, 4*d)
		m.gelu.apply(fc)
		linear(h, fc, l.outW, l.outB, 4*d, d)
		add(x, h)
	}
	s.pos += T
	if !withLogits {
		return
	}
	first := T - 1
	if every != nil {
		first = 0
	}
	for t := first; t < T; t++ {
		layerNorm(s.hidden, x[t*d:(t+1)*d], m.lnfW, m.lnfB, d)
		linear(s.logits, s.hidden, m.tokEmb, m.zeroBias, d, m.cfg.VocabSize)
		if every != nil {
			every(s.logits)
		}
	}
}

// attend stores the chunk's keys and values in layer li's cache and writes
// causal multi-head attention of its T queries to out ([T, d]). The cache
// is laid out [head, position, hd], so one head's keys and values are
// contiguous and go through the same four-row kernel as the linear layers.
func (s *session) attend(li int, out, qkv []float32, T int) {
	d, nh := s.m.cfg.DModel, s.m.cfg.NHead
	hd := d / nh
	kc, vc := s.k[li], s.v[li]
	for t := range T {
		p := s.pos + t
		row := qkv[t*3*d : (t+1)*3*d]
		for h := range nh {
			at := (h*s.cap + p) * hd
			copy(kc[at:at+hd], row[d+h*hd:d+(h+1)*hd])
			copy(vc[at:at+hd], row[2*d+h*hd:2*d+(h+1)*hd])
		}
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	for t := range T {
		n := s.pos + t + 1 // positions this query may see
		scores := s.scores[:n]
		for h := range nh {
			keys := kc[h*s.cap*hd : (h*s.cap+n)*hd]
			vals := vc[h*s.cap*hd : (h*s.cap+n)*hd]
			q := qkv[t*3*d+h*hd : t*3*d+(h+1)*hd]
			j := 0
			for ; j+4 <= n; j += 4 {
				s0, s1, s2, s3 := dot4(keys[j*hd:(j+4)*hd], q)
				sc := scores[j : j+4 : j+4]
				sc[0], sc[1], sc[2], sc[3] = s0*scale, s1*scale, s2*scale, s3*scale
			}
			for ; j < n; j++ {
				scores[j] = dot(q, keys[j*hd:(j+1)*hd]) * scale
			}
			softmax(scores)
			o := out[t*d+h*hd : t*d+(h+1)*hd]
			clear(o)
			j = 0
			for ; j+4 <= n; j += 4 {
				axpy4(o, scores[j:j+4], vals[j*hd:(j+4)*hd])
			}
			for ; j < n; j++ {
				axpy(o, scores[j], vals[j*hd:(j+1)*hd])
			}
		}
	}
}

// linear computes out[t] = W·in[t] + b for each row t of in, with W
// [nOut, nIn] row-major. Rows of W go four at a time, so each element of
// in[t] is loaded once for four outputs, and a block of W stays in cache
// for all rows of in.
func linear(out, in, w, b []float32, nIn, nOut int) {
	T := len(in) / nIn
	o := 0
	for ; o+4 <= nOut; o += 4 {
		blk := w[o*nIn : (o+4)*nIn]
		b0, b1, b2, b3 := b[o], b[o+1], b[o+2], b[o+3]
		for t := range T {
			s0, s1, s2, s3 := dot4(blk, in[t*nIn:(t+1)*nIn])
			r := out[t*nOut+o : t*nOut+o+4 : t*nOut+o+4]
			r[0], r[1], r[2], r[3] = s0+b0, s1+b1, s2+b2, s3+b3
		}
	}
	for ; o < nOut; o++ {
		wr := w[o*nIn : (o+1)*nIn]
		for t := range T {
			out[t*nOut+o] = dot(wr, in[t*nIn:(t+1)*nIn]) + b[o]
		}
	}
}

// dot4 returns the inner products of x with the four consecutive rows of
// len(x) values that make up w.
func dot4(w, x []float32) (s0, s1, s2, s3 float32) {
	n := len(x)
	w0, w1, w2, w3 := w[:n:n], w[n:2*n:2*n], w[2*n:3*n:3*n], w[3*n:4*n:4*n]
	for i, xv := range x {
		s0 += w0[i] * xv
		s1 += w1[i] * xv
		s2 += w2[i] * xv
		s3 += w3[i] * xv
	}
	return s0, s1, s2, s3
}

// dot is the inner product of a and b[:len(a)], with four accumulators so
// the additions can overlap.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, y := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds a·x to y.
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// axpy4 adds a[0]·x0 + … + a[3]·x3 to y, where x holds the four rows
// x0…x3 of len(y) values.
func axpy4(y, a, x []float32) {
	n := len(y)
	a = a[:4]
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	x0, x1, x2, x3 := x[:n:n], x[n:2*n:2*n], x[2*n:3*n:3*n], x[3*n:4*n:4*n]
	for i := range y {
		y[i] += a0*x0[i] + a1*x1[i] + a2*x2[i] + a3*x3[i]
	}
}

// add adds b to a elementwise.
func add(a, b []float32) {
	b = b[:len(a)]
	for i := range a {
		a[i] += b[i]
	}
}

// layerNorm normalises each d-wide row of in into out (eps 1e-5), then
// scales by w and shifts by b. Sums are taken in float64.
func layerNorm(out, in, w, b []float32, d int) {
	w, b = w[:d], b[:d]
	for r := 0; r+d <= len(in); r += d {
		x, y := in[r:r+d], out[r:r+d]
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		mean := sum / float64(d)
		var ss float64
		for _, v := range x {
			dv := float64(v) - mean
			ss += dv * dv
		}
		inv := 1 / math.Sqrt(ss/float64(d)+1e-5)
		m32, inv32 := float32(mean), float32(inv)
		for i, v := range x {
			y[i] = (v-m32)*inv32*w[i] + b[i]
		}
	}
}

// softmax turns x into probabilities in place.
func softmax(x []float32) {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v - mx))
		x[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}
