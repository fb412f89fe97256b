package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/guardrails/policyfile"
)

func TestPolicyCheckExample(t *testing.T) {
	out, _, err := runCLI(runPolicyCheck, map[string]string{"REAGENT_APPROVAL_SECRET": "x"}, "../../examples/guarded/policy.yaml")
	require.NoError(t, err)
	for _, want := range []string{"policy ../../examples/guarded/policy.yaml: ok", "mode: block", "guards (8):", "rrm-gate:", "tagged tools (5):", "transfer", "approval: webhook http://127.0.0.1:8089/approve"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "warning:")

	out, _, err = runCLI(runPolicyCheck, nil, "../../examples/guarded/policy.yaml")
	require.NoError(t, err, "a missing webhook secret is a warning, not an error")
	assert.Contains(t, out, "warning: line")
	assert.Contains(t, out, "REAGENT_APPROVAL_SECRET is not set")
}

func TestPolicyCheckBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("version: 1\nnetwork:\n  allow_private: true\n  deny_domain: [x.example]\n"), 0o600))
	out, _, err := runCLI(runPolicyCheck, nil, path)
	require.Error(t, err)
	assert.Empty(t, out)
	assert.Equal(t, 1, exitCode(err))
	assert.Equal(t, "policy check: "+path+`:4:3: unknown key "deny_domain" in network (known: allow_cidrs, allow_domains, allow_loopback, allow_metadata, allow_private, deny_cidrs, deny_domains, ports, resolve, schemes, tags, tools)`, err.Error())
	assert.NotContains(t, err.Error(), "\n")

	yamlErr := filepath.Join(t.TempDir(), "syntax.yaml")
	require.NoError(t, os.WriteFile(yamlErr, []byte("network:\n  allow_private: [\n"), 0o600))
	_, _, err = runCLI(runPolicyCheck, nil, yamlErr)
	require.Error(t, err)
	assert.Equal(t, 1, exitCode(err))
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), yamlErr+":2: YAML syntax:", "the error names the line")

	_, _, err = runCLI(runPolicyCheck, nil, filepath.Join(t.TempDir(), "missing.yaml"))
	assert.Equal(t, 1, exitCode(err))
	assert.Contains(t, err.Error(), "no such file")
}

func TestPolicyCheckUsage(t *testing.T) {
	_, _, err := runCLI(runPolicyCheck, nil)
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(runPolicyCheck, nil, "a.yaml", "b.yaml")
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(runPolicyCheck, nil, "--bogus", "a.yaml")
	assert.Equal(t, 2, exitCode(err))
	_, stderr, err := runCLI(runPolicyCheck, nil, "--help")
	assert.True(t, errors.Is(err, flag.ErrHelp))
	assert.Equal(t, 0, exitCode(err))
	assert.Contains(t, stderr, "usage: reagent policy check FILE")
}

func TestPolicyDefaultRoundTrips(t *testing.T) {
	out, _, err := runCLI(runPolicyDefault, nil)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "default.yaml")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	check, _, err := runCLI(runPolicyCheck, nil, path)
	require.NoError(t, err)
	assert.Contains(t, check, "guards (7):")
	p, err := policyfile.Parse([]byte(out))
	require.NoError(t, err)
	d := policyfile.Default()
	assert.Equal(t, len(d.Guards)+len(d.Gates), len(p.Guards)+len(p.Gates))
}
