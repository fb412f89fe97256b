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

// scan adds to m the rules with a needle in s.
func (p *prefilter) scan(s string, m *ruleSet) {
	row := 0
	next, class := p.next, &p.class
	for i := 0; i < len(s); i++ {
		e := next[row+int(class[s[i]])]
		row = int(e >> 1)
		if e&1 != 0 {
			m.union(&p.out[row/p.nclass])
		}
	}
}
