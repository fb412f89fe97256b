package redact

// prefilter finds in one pass over a string, ignoring ASCII case, which
// rules' literal needles occur in it (an Aho–Corasick automaton). A rule
// whose needles are all absent cannot match, so its regular expression is
// not run: clean text costs one table walk instead of hundreds of scans.
type prefilter struct {
	class  [256]uint8 // byte → input class; upper-case letters share the lower-case class
	nclass int
	// next[row+class] is the next state's row (state*nclass) shifted left
	// by one, with the low bit set when needles end at that state.
	next []int32
	out  []ruleSet // per state: the rules with a needle ending there
	// longest is the longest needle's length: how far back a scan that
	// starts mid-string must begin to see every needle ending after its
	// start.
	longest int
}

// maxIndexed is how many rules the prefilter can index; rules beyond it
// always run.
const maxIndexed = 64 * len(ruleSet{})

// ruleSet is a set of rule indexes below maxIndexed.
type ruleSet [8]uint64

func (r *ruleSet) add(i int)      { r[i/64] |= 1 << (i % 64) }
func (r *ruleSet) has(i int) bool { return i >= maxIndexed || r[i/64]&(1<<(i%64)) != 0 }
func (r *ruleSet) union(o *ruleSet) {
	for i := range r {
		r[i] |= o[i]
	}
}

func lowerASCII(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// buildPrefilter indexes needles[i], the needles of rule i (i < maxIndexed).
func buildPrefilter(needles [][]string) *prefilter {
	p := &prefilter{nclass: 1} // class 0: bytes in no needle
	for _, ns := range needles {
		for _, n := range ns {
			p.longest = max(p.longest, len(n))
			for i := 0; i < len(n); i++ {
				b := lowerASCII(n[i])
				if p.class[b] != 0 {
					continue
				}
				p.class[b] = uint8(p.nclass)
				if b >= 'a' && b <= 'z' {
					p.class[b-'a'+'A'] = uint8(p.nclass)
				}
				p.nclass++
			}
		}
	}
	// The trie, with -1 for a missing edge.
	trie := [][]int32{make([]int32, p.nclass)}
	for c := range trie[0] {
		trie[0][c] = -1
	}
	p.out = []ruleSet{{}}
	for rule, ns := range needles {
		for _, n := range ns {
			st := int32(0)
			for i := 0; i < len(n); i++ {
				c := p.class[lowerASCII(n[i])]
				if trie[st][c] < 0 {
					row := make([]int32, p.nclass)
					for j := range row {
						row[j] = -1
					}
					trie = append(trie, row)
					p.out = append(p.out, ruleSet{})
					trie[st][c] = int32(len(trie) - 1)
				}
				st = trie[st][c]
			}
			p.out[st].add(rule)
		}
	}
	// Breadth first: each state's failure link is already complete when its
	// children are reached, so missing edges can borrow from it.
	p.next = make([]int32, len(trie)*p.nclass)
	fail := make([]int32, len(trie))
	queue := []int32{}
	for c := 0; c < p.nclass; c++ {
		if child := trie[0][c]; child >= 0 {
			p.next[c] = child
			queue = append(queue, child)
		}
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		p.out[st].union(&p.out[fail[st]])
		for c := 0; c < p.nclass; c++ {
			child := trie[st][c]
			if child < 0 {
				p.next[int(st)*p.nclass+c] = p.next[int(fail[st])*p.nclass+c]
				continue
			}
			fail[child] = p.next[int(fail[st])*p.nclass+c]
			p.next[int(st)*p.nclass+c] = child
			queue = append(queue, child)
		}
	}
	// Pre-multiply and flag the transitions, so the scan loop does one load
	// per byte and touches out only on a hit.
	for i, st := range p.next {
		e := st * int32(p.nclass) << 1
		if p.out[st] != (ruleSet{}) {
			e |= 1
		}
		p.next[i] = e
	}
	return p
}

// interleaveMin is the shortest text scan splits into interleaved parts.
const interleaveMin = 128

// scan adds to m the rules with a needle in s.
//
// One walk costs a dependent table load per byte (each state comes from the
// previous one), so it runs at the load latency, not at what the CPU could
// do. Text of interleaveMin bytes or more (and four needles long) is cut
// into four parts walked
// side by side, four independent chains in one loop; each part after the
// first starts longest-1 bytes early from the root state, so a needle that
// crosses a cut is seen whole by the part where it ends. A needle found
// twice only adds its rules twice, so the result is scanOne's exactly
// (TestScanInterleaved, FuzzScanInterleaved).
func (p *prefilter) scan(s string, m *ruleSet) {
	if len(s) < interleaveMin || p.longest == 0 || len(s)/4 < p.longest {
		p.scanOne(s, m)
		return
	}
	q := len(s) / 4
	back := p.longest - 1
	// Part k covers ends [k*q, (k+1)*q) (the last part runs to the end) and
	// starts its walk back bytes before k*q.
	a, b, c, d := s[:q], s[q-back:2*q], s[2*q-back:3*q], s[3*q-back:]
	next, class := p.next, &p.class
	// The three middle parts are back+q long; walk that much of all four
	// together (a is shorter: walk its first back bytes alone first).
	ra := 0
	for i := 0; i < back; i++ {
		e := next[ra+int(class[a[i]])]
		ra = int(e >> 1)
		if e&1 != 0 {
			m.union(&p.out[ra/p.nclass])
		}
	}
	a = a[back:]
	rb, rc, rd := 0, 0, 0
	n := len(a) // q-back
	b2, c2, d2 := b[:q], c[:q], d[:q]
	// b, c and d first walk their back-byte lead-ins, which can only find
	// needles that a previous part finds too, then their q bytes.
	for i := 0; i < back; i++ {
		e1 := next[rb+int(class[b2[i]])]
		e2 := next[rc+int(class[c2[i]])]
		e3 := next[rd+int(class[d2[i]])]
		rb, rc, rd = int(e1>>1), int(e2>>1), int(e3>>1)
		if (e1|e2|e3)&1 != 0 {
			p.hits(m, e1, e2, e3)
		}
	}
	b2, c2, d2 = b2[back:], c2[back:], d2[back:]
	for i := 0; i < n; i++ {
		e0 := next[ra+int(class[a[i]])]
		e1 := next[rb+int(class[b2[i]])]
		e2 := next[rc+int(class[c2[i]])]
		e3 := next[rd+int(class[d2[i]])]
		ra, rb, rc, rd = int(e0>>1), int(e1>>1), int(e2>>1), int(e3>>1)
		if (e0|e1|e2|e3)&1 != 0 {
			p.hits(m, e0, e1, e2, e3)
		}
	}
	// What is left: the last back bytes of b and c, the rest of d.
	p.scanFrom(b[n+back:], rb, m)
	p.scanFrom(c[n+back:], rc, m)
	p.scanFrom(d[n+back:], rd, m)
}

// hits adds the rules of the flagged transitions es.
func (p *prefilter) hits(m *ruleSet, es ...int32) {
	for _, e := range es {
		if e&1 != 0 {
			m.union(&p.out[int(e>>1)/p.nclass])
		}
	}
}

// scanOne walks s in one chain.
func (p *prefilter) scanOne(s string, m *ruleSet) { p.scanFrom(s, 0, m) }

// scanFrom walks s from the state whose row is row.
func (p *prefilter) scanFrom(s string, row int, m *ruleSet) {
	next, class := p.next, &p.class
	for i := 0; i < len(s); i++ {
		e := next[row+int(class[s[i]])]
		row = int(e >> 1)
		if e&1 != 0 {
			m.union(&p.out[row/p.nclass])
		}
	}
}
