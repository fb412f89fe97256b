package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reagent-go/reagent/agents/tinylm"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

// fixtureModel is the small PyTorch-exported model kept in the tinylm
// package's testdata.
var fixtureModel = filepath.Join("..", "..", "agents", "tinylm", "testdata", "fixture")

// TestServeModel starts the command on a free port, talks to it with
// langchaingo's OpenAI client and checks the answers equal the same calls
// made on the model in process; then stops it by cancelling the context.
func TestServeModel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	c := &cli{Stdout: pw, Stderr: &stderr, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }}
	done := make(chan error, 1)
	go func() {
		done <- runServeModel(ctx, c, []string{"--addr", "127.0.0.1:0", "--model", fixtureModel, "--name", "tiny-fixture", "--parallel", "2"})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v (stderr: %s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain anything else
	url := regexp.MustCompile(`http://\S+/v1`).FindString(line)
	if url == "" || !strings.Contains(line, "tiny-fixture") {
		t.Fatalf("startup line %q", line)
	}

	client, err := openai.New(openai.WithBaseURL(url), openai.WithToken("unused"), openai.WithModel("tiny-fixture"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tinylm.Load(fixtureModel)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, "You are terse."),
		llms.TextParts(llms.ChatMessageTypeHuman, "2+2?"),
	}
	for _, opts := range [][]llms.CallOption{
		{llms.WithMaxTokens(8)}, // temperature 0: greedy
		{llms.WithTemperature(1), llms.WithSeed(9), llms.WithMaxTokens(8)},
	} {
		over, err := client.GenerateContent(ctx, msgs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := m.GenerateContent(ctx, msgs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		a, b := over.Choices[0], direct.Choices[0]
		if a.Content != b.Content || a.StopReason != b.StopReason || a.GenerationInfo["TotalTokens"] != b.GenerationInfo["TotalTokens"] {
			t.Fatalf("over HTTP %q (%s, %v tokens), in process %q (%s, %v tokens)",
				a.Content, a.StopReason, a.GenerationInfo["TotalTokens"], b.Content, b.StopReason, b.GenerationInfo["TotalTokens"])
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve-model returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve-model did not stop after its context was cancelled")
	}
}

func TestServeModelFlags(t *testing.T) {
	run := func(args ...string) (error, string) {
		out, errb, err := runCLI(runServeModel, nil, args...)
		return err, out + errb
	}
	if err, out := run("--help"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "serve-model") {
		t.Fatalf("--help: %v %q", err, out)
	}
	var ue *usageError
	if err, _ := run("--addr", "256.0.0.1:99999"); err == nil || errors.As(err, &ue) {
		t.Fatalf("no --model serves the embedded policy, so only the address fails: %v", err)
	}
	if err, _ := run("--model", fixtureModel, "--parallel", "0"); !errors.As(err, &ue) {
		t.Fatalf("--parallel 0: %v", err)
	}
	if err, _ := run("--model", t.TempDir()); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("empty model dir: %v", err)
	}
	if err, _ := run("--model", fixtureModel, "--addr", "256.0.0.1:99999"); err == nil {
		t.Fatal("a bad address was accepted")
	}
}
