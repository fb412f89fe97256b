package audit_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/audit"
	"github.com/reagent-go/reagent/trajectory"
)

func TestJSONLRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := audit.NewJSONL(&buf)
	var want []*trajectory.Trajectory
	for i := range 5 {
		r := sampleRun(i, 1+i)
		r.Assessments = []trajectory.Assessment{assessment("rrm", float64(i)/5)}
		want = append(want, r)
		require.NoError(t, w.Write(r))
	}
	assert.Equal(t, 5, w.Count())
	assert.Equal(t, 5, strings.Count(buf.String(), "\n"), "one line per trajectory")

	got, err := audit.ReadJSONL(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.Len(t, got, 5)
	for i := range want {
		a, _ := trajectory.Marshal(want[i])
		b, _ := trajectory.Marshal(got[i])
		assert.JSONEq(t, string(a), string(b))
	}
}

func TestJSONLRedacts(t *testing.T) {
	var buf bytes.Buffer
	r := sampleRun(1, 1)
	r.Task = "key sk-abcdefghijklmnopqrstuvwxyz0123"
	require.NoError(t, audit.NewJSONL(&buf).Write(r))
	assert.NotContains(t, buf.String(), "sk-abcdefghij")
	assert.Equal(t, "key sk-abcdefghijklmnopqrstuvwxyz0123", r.Task, "the caller's run is not modified")
	buf.Reset()
	require.NoError(t, audit.NewJSONL(&buf, audit.WithRedactor(nil)).Write(r))
	assert.Contains(t, buf.String(), "sk-abcdefghij")
}

func TestJSONLConcurrentWritesStayLines(t *testing.T) {
	var buf bytes.Buffer
	w := audit.NewJSONL(&buf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, w.Write(sampleRun(i, 3)))
		}()
	}
	wg.Wait()
	got, err := audit.ReadJSONL(&buf)
	require.NoError(t, err)
	assert.Len(t, got, 8)
}

func TestJSONLReaderErrors(t *testing.T) {
	good, err := trajectory.Marshal(sampleRun(1, 1))
	require.NoError(t, err)
	in := string(good) + "\n\n  \n" + string(good) + "\n{not json}\n"
	r := audit.NewJSONLReader(strings.NewReader(in))
	_, err = r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	require.NoError(t, err, "blank lines are skipped")
	_, err = r.Next()
	require.ErrorContains(t, err, "jsonl line 5")

	_, err = audit.ReadJSONL(strings.NewReader(`{"schema_version":99,"id":"x"}`))
	require.ErrorIs(t, err, trajectory.ErrNewerSchema)
	_, err = audit.ReadJSONL(strings.NewReader(`[1,2]`))
	require.ErrorContains(t, err, "line 1")

	// No trailing newline on the last line is fine.
	got, err := audit.ReadJSONL(strings.NewReader(string(good)))
	require.NoError(t, err)
	assert.Len(t, got, 1)

	// A line longer than the reader's buffer is read whole.
	long := sampleRun(2, 1)
	long.Task = strings.Repeat("x", 300_000)
	b, _ := trajectory.Marshal(long)
	got, err = audit.ReadJSONL(bytes.NewReader(append(b, '\n')))
	require.NoError(t, err)
	assert.Len(t, got[0].Task, 300_000)

	_, err = audit.NewJSONLReader(errReader{}).Next()
	require.ErrorContains(t, err, "disk gone")

	require.Error(t, audit.NewJSONL(io.Discard).Write(nil))
	require.ErrorContains(t, audit.NewJSONL(errWriter{}).Write(sampleRun(1, 1)), "disk gone")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk gone") }

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk gone") }

// FuzzJSONLReader feeds arbitrary bytes to the reader: it must return
// trajectories or errors, never panic, and whatever it returns must write
// back and read again unchanged.
func FuzzJSONLReader(f *testing.F) {
	good, _ := trajectory.Marshal(sampleRun(1, 2))
	f.Add(append(append([]byte{}, good...), '\n'))
	f.Add([]byte("\n\n" + string(good)))
	f.Add([]byte(`{"schema_version":1,"id":"a","steps":null}` + "\n" + `{"schema_version":2}`))
	f.Add([]byte(`{"schema_version":1,"steps":[{"index":"x"}]}`))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := audit.NewJSONLReader(bytes.NewReader(in))
		for range 1000 {
			tr, err := r.Next()
			if err != nil {
				return
			}
			var buf bytes.Buffer
			require.NoError(t, audit.NewJSONL(&buf, audit.WithRedactor(nil)).Write(tr))
			back, err := audit.ReadJSONL(&buf)
			require.NoError(t, err)
			require.Len(t, back, 1)
			a, _ := trajectory.Marshal(tr)
			b, _ := trajectory.Marshal(back[0])
			require.Equal(t, string(a), string(b))
		}
	})
}
