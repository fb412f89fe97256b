package main

import (
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDispatch(t *testing.T) {
	run := func(args ...string) (string, error) {
		c, out, _ := testCLI(nil, "")
		err := dispatch(context.Background(), c, args)
		return out.String(), err
	}
	out, err := run()
	require.NoError(t, err)
	assert.Contains(t, out, "audit verify")
	assert.Contains(t, out, "demo")

	out, err = run("version")
	require.NoError(t, err)
	assert.Contains(t, out, "reagent ")

	out, err = run("audit")
	require.NoError(t, err, "a group name lists its commands")
	assert.Contains(t, out, "audit show")
	assert.NotContains(t, out, "serve-model")

	_, err = run("frobnicate")
	require.Error(t, err)
	assert.Equal(t, 2, exitCode(err))

	_, err = run("audit", "frobnicate")
	assert.Equal(t, 2, exitCode(err))

	_, err = run("version", "--bogus")
	assert.Equal(t, 2, exitCode(err))

	_, err = run("version", "--help")
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err))
}
