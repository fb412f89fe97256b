package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuietWhenNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 10, "judging")
	for range 10 {
		b.Add(1)
	}
	assert.Empty(t, buf.String(), "no drawing on a non-terminal")
	b.Done()
	out := buf.String()
	assert.True(t, strings.HasPrefix(out, "judging: 10/10 done in "), out)
	assert.Equal(t, 1, strings.Count(out, "\n"))
	assert.NotContains(t, out, "\r")
	b.Done()
	b.Add(3)
	assert.Equal(t, out, buf.String(), "calls after Done do nothing")
}

func TestDrawsOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 4, "work", WithTerminal(true), WithInterval(0))
	b.Add(1)
	assert.Contains(t, buf.String(), "\r\033[Kwork [======>")
	assert.Contains(t, buf.String(), "1/4  25%")
	b.Add(3)
	assert.Contains(t, buf.String(), "[========================] 4/4 100%")
	b.Done()
	assert.True(t, strings.HasSuffix(buf.String(), "\n"))
	assert.Contains(t, buf.String(), "work: 4/4 done in")
}

func TestUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 0, "rows", WithTerminal(true), WithInterval(0))
	b.Add(5)
	assert.Contains(t, buf.String(), "rows: 5 (")
	b.Done()
	assert.Contains(t, buf.String(), "rows: 5 done in")
}

func TestConcurrentAdd(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 1000, "par", WithTerminal(true), WithInterval(0))
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Add(1)
			}
		}()
	}
	wg.Wait()
	b.Done()
	assert.Contains(t, buf.String(), "par: 1000/1000 done")
}

func TestFileIsNotTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f))
	assert.False(t, isTerminal(&bytes.Buffer{}))
}
