package audit_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

// twoPass is the reference: encoding/json's output made canonical.
func twoPass(t *trajectory.Trajectory) ([]byte, error) {
	raw, err := trajectory.Marshal(t)
	if err != nil {
		return nil, err
	}
	return audit.Canonicalize(raw)
}

// Values that exercise escaping, key order, number forms and the limits
// of what JSON can carry.
var (
	trickyStrings = []string{"", "plain text", `quote " and back\slash`, "<script>&amp;</script>",
		"line\nbreak\ttab\rreturn\bback\fform", "\x00\x01\x1f\x7f", "\u2028\u2029", "naïve café 東京",
		"emoji 😀 and \U0001F600", "\uE000\uFFFD", "invalid \xff\xfe utf-8 \xc3", "/slash/", "\\u0041"}
	trickyKeys = []string{"a", "b", "A", "é", "\uE000", "\U0001F600", "\U00010000", "key with space", "<", ""}
	trickyInts = []int64{0, 1, -1, 42, 999999999999999, -999999999999999, 1000000000000000,
		-1000000000000000, 9007199254740993, -9007199254740993, math.MaxInt64, math.MinInt64}
	trickyFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 1e-7, 1e-6, 123456.789, 1e21, 1e20,
		5e-324, math.MaxFloat64, -1.5e300, 9007199254740993, 0.30000000000000004}
	trickyRaw = []json.RawMessage{nil, json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`),
		json.RawMessage(` { "z" : null , "a" : [ 1 , 2.50 , "<x>" ] } `), json.RawMessage(`"\u00e9\u2028"`),
		json.RawMessage(`{"\ud83d\ude00":1,"\ue000":2}`), json.RawMessage(`1E400`), json.RawMessage(`{`),
		json.RawMessage(`{"a":1,"a":2}`), json.RawMessage(`[1e-7,100000000000000000000000]`)}
	trickyZones = []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("PST", -8*3600),
		time.FixedZone("odd", 3600+17), time.FixedZone("far", 23*3600+59*60), time.FixedZone("over", 24*3600),
		time.FixedZone("way", -25*3600)}
)

// fill sets v (addressable) to random values, recursing through structs,
// slices, maps and pointers: every exported field, including fields added
// to the trajectory types later, gets values, so the one-pass encoder must
// know them all to match the two-pass reference.
//
// With bad set, values JSON cannot carry (NaN, year 10000, broken
// parameters, a key that is not UTF-8) turn up now and then.
func fill(r *rand.Rand, v reflect.Value, depth int, bad bool) {
	// rare is true about once in n draws, and only when bad values are wanted.
	rare := func(n int) bool { return bad && r.IntN(n) == 0 }
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		var tm time.Time
		zones := trickyZones[:5] // the others are beyond what JSON carries
		switch {
		case r.IntN(6) == 0: // zero
		case rare(20):
			tm = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		case rare(20):
			tm = time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC)
		case rare(10):
			zones = trickyZones
			fallthrough
		default:
			tm = time.Unix(r.Int64N(1<<35)-1<<33, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		}
		v.Set(reflect.ValueOf(tm))
		return
	case reflect.TypeFor[json.RawMessage]():
		raws := trickyRaw[:5] // the others are not valid or not I-JSON
		if rare(5) {
			raws = trickyRaw
		}
		v.Set(reflect.ValueOf(raws[r.IntN(len(raws))]))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if r.IntN(4) == 0 {
			v.SetString("")
			return
		}
		v.SetString(trickyStrings[r.IntN(len(trickyStrings))] + trickyStrings[r.IntN(len(trickyStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		n := trickyInts[r.IntN(len(trickyInts))]
		if v.Kind() == reflect.Int && r.IntN(2) == 0 {
			n = r.Int64N(2000) - 1000
		}
		v.SetInt(n)
	case reflect.Float64:
		f := trickyFloats[r.IntN(len(trickyFloats))]
		switch {
		case rare(20):
			f = math.NaN()
		case rare(20):
			f = math.Inf(-1)
		case r.IntN(4) == 0:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		}
		v.SetFloat(f)
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem(), depth, bad)
		v.Set(p)
	case reflect.Slice:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		n := 0
		if depth < 4 && r.IntN(5) > 0 {
			n = 1 + r.IntN(3)
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i), depth+1, bad)
		}
		v.Set(s)
	case reflect.Map:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		m := reflect.MakeMap(v.Type())
		for range r.IntN(5) {
			k := trickyKeys[r.IntN(len(trickyKeys))]
			if rare(5) {
				k = "bad\xffkey"
			}
			val := reflect.New(v.Type().Elem()).Elem()
			fill(r, val, depth+1, bad)
			m.SetMapIndex(reflect.ValueOf(k), val)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth, bad)
			}
		}
	default:
		panic("fill: no generator for " + v.Type().String() + "; add one")
	}
}

// TestCanonicalTrajectory checks that the one-pass encoder writes exactly
// what Canonicalize makes of trajectory.Marshal's output, and fails the
// same way, over trajectories with every field set to random tricky
// values.
func TestCanonicalTrajectory(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	const n = 3000
	for i := range n {
		var tr trajectory.Trajectory
		fill(r, reflect.ValueOf(&tr).Elem(), 0, i%5 == 0)
		want, wantErr := twoPass(&tr)
		got, err := audit.CanonicalTrajectory(&tr)
		if wantErr != nil {
			require.Error(t, err, "case %d: the two-pass path fails (%v), the one-pass path must too", i, wantErr)
			require.Equal(t, wantErr.Error(), err.Error(), "case %d", i)
			continue
		}
		require.NoError(t, err, "case %d", i)
		require.Equal(t, string(want), string(got), "case %d", i)
		if b, ok := audit.AppendTrajectory(nil, &tr); ok {
			fast++
			require.Equal(t, string(want), string(b), "case %d", i)
		}
	}
	// Most cases must take the one-pass path, or the test checks little.
	t.Logf("one-pass: %d of %d", fast, n)
	require.Greater(t, fast, n/2, "the one-pass encoder handled %d of %d trajectories", fast, n)

	// The benchmark's realistic runs take the one-pass path.
	run := sampleRun(7, benchSteps)
	run.Tools[0].Parameters = json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)
	b, ok := audit.AppendTrajectory(nil, run)
	require.True(t, ok)
	want, err := twoPass(run)
	require.NoError(t, err)
	require.Equal(t, string(want), string(b))
}

// TestCanonicalAssessment does the same for assessments.
func TestCanonicalAssessment(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		var a trajectory.Assessment
		fill(r, reflect.ValueOf(&a).Elem(), 0, i%5 == 0)
		raw, err := json.Marshal(a)
		var want []byte
		if err == nil {
			want, err = audit.Canonicalize(raw)
		}
		got, gotErr := audit.CanonicalAssessment(&a)
		if err != nil {
			require.Error(t, gotErr, "case %d", i)
			require.Equal(t, err.Error(), gotErr.Error(), "case %d", i)
			continue
		}
		require.NoError(t, gotErr, "case %d", i)
		require.Equal(t, string(want), string(got), "case %d", i)
	}
}

// FuzzCanonicalTrajectory puts arbitrary text and numbers into a realistic
// run and checks the one-pass encoder against the two-pass reference.
func FuzzCanonicalTrajectory(f *testing.F) {
	f.Add("thought", "key", int64(5), 0.25, []byte(`{"a":1}`))
	f.Add("\xff\u2028<", "\U0001F600", int64(math.MaxInt64), 1e21, []byte(`[1e-7]`))
	f.Fuzz(func(t *testing.T, s, k string, n int64, x float64, params []byte) {
		run := sampleRun(1, 2)
		run.Task, run.Steps[0].Thought, run.Steps[1].Calls = s, s+k, []trajectory.ToolCall{{Tool: k, Observation: s, Duration: time.Duration(n)}}
		run.Metadata[k] = s
		run.Round = int(n)
		run.Tools[0].Parameters = params
		run.Decisions = []trajectory.Decision{{Guard: k, Score: &x, Step: int(n)}}
		want, wantErr := twoPass(run)
		got, err := audit.CanonicalTrajectory(run)
		if wantErr != nil {
			if err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("two-pass error %v, one-pass error %v", wantErr, err)
			}
			return
		}
		if err != nil || string(got) != string(want) {
			t.Fatalf("one-pass %q (%v), two-pass %q", got, err, want)
		}
	})
}

// BenchmarkCanonicalTrajectory writes a 10-step run's canonical JSON in one
// pass, against a baseline of trajectory.Marshal of the same run (which is
// not canonical: it is what the two-pass path started from).
func BenchmarkCanonicalTrajectory(b *testing.B) {
	run := sampleRun(1, benchSteps)
	var one, marshal time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := audit.CanonicalTrajectory(run); err != nil {
			b.Fatal(err)
		}
		one += time.Since(start)
		start = time.Now()
		if _, err := trajectory.Marshal(run); err != nil {
			b.Fatal(err)
		}
		marshal += time.Since(start)
	}
	b.ReportMetric(marshal.Seconds()/one.Seconds(), "x-marshal")
	b.ReportMetric(float64(one.Nanoseconds())/float64(b.N), "one-pass-ns/op")
	b.ReportMetric(float64(marshal.Nanoseconds())/float64(b.N), "marshal-ns/op")
}
