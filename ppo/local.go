package ppo

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed backend/reagent_backend/*.py
var backendSource embed.FS

// ErrNoTorch is wrapped by StartLocal's error when the Python interpreter
// has no PyTorch.
var ErrNoTorch = errors.New("ppo: PyTorch is not installed for this Python (pip install -r ppo/backend/requirements.txt, or set REAGENT_PYTHON to a Python that has it)")

// DefaultPython is the interpreter StartLocal runs when neither WithPython
// nor the REAGENT_PYTHON environment variable names one: python3 on PATH.
const DefaultPython = "python3"

// Python returns the interpreter the backend runs with: $REAGENT_PYTHON when
// set (scripts/test.sh points it at the venv it installs), else DefaultPython.
func Python() string {
	if p := os.Getenv("REAGENT_PYTHON"); p != "" {
		return p
	}
	return DefaultPython
}

// Local is a backend process started by StartLocal.
type Local struct {
	// URL is the backend's address, for example "http://127.0.0.1:40123".
	URL string
	// Client talks to it.
	Client *Client

	cmd     *exec.Cmd
	tmpDir  string
	done    chan struct{}
	waitErr error
	stderr  *tailBuffer
	stopped sync.Once
	stopErr error
}

type localConfig struct {
	python       string
	model        string
	device       string
	algo         string
	seed         int
	lr           float64
	checkpoint   string
	port         int
	args         []string
	env          []string
	backendDir   string
	startTimeout time.Duration
	output       io.Writer
	clientOpts   []ClientOption
}

// LocalOption configures StartLocal.
type LocalOption func(*localConfig)

// WithPython sets the Python interpreter (default: Python()).
func WithPython(path string) LocalOption { return func(c *localConfig) { c.python = path } }

// WithModel sets the model: "tiny" (default), a local Hugging Face folder or
// a GGUF file (the backend converts it once and caches the result).
func WithModel(m string) LocalOption { return func(c *localConfig) { c.model = m } }

// WithDevice sets the torch device: "cpu" (default), "cuda" or "cuda:N".
func WithDevice(d string) LocalOption { return func(c *localConfig) { c.device = d } }

// WithAlgo sets the default algorithm, GRPO (default) or PPO.
func WithAlgo(a string) LocalOption { return func(c *localConfig) { c.algo = a } }

// WithSeed sets the backend's random seed (default 0).
func WithSeed(s int) LocalOption { return func(c *localConfig) { c.seed = s } }

// WithLR sets the default AdamW learning rate (backend default 1e-6).
func WithLR(lr float64) LocalOption { return func(c *localConfig) { c.lr = lr } }

// WithCheckpointDir makes the backend resume from dir when it holds a
// checkpoint, and save there when Checkpoint is called with no folder.
func WithCheckpointDir(dir string) LocalOption { return func(c *localConfig) { c.checkpoint = dir } }

// WithPort sets the port (default 0: the system picks a free one).
func WithPort(p int) LocalOption { return func(c *localConfig) { c.port = p } }

// WithArgs appends raw `serve` flags, for example "--tiny-config", "{...}"
// or "--lora-rank", "16".
func WithArgs(args ...string) LocalOption {
	return func(c *localConfig) { c.args = append(c.args, args...) }
}

// WithEnv adds KEY=VALUE entries to the backend's environment.
func WithEnv(kv ...string) LocalOption { return func(c *localConfig) { c.env = append(c.env, kv...) } }

// WithBackendDir runs the reagent_backend package found in dir (a folder
// holding reagent_backend/) instead of the copy embedded in this binary.
func WithBackendDir(dir string) LocalOption { return func(c *localConfig) { c.backendDir = dir } }

// WithStartTimeout bounds the wait for the backend to answer /health
// (default 3 minutes: loading a large model takes a while).
func WithStartTimeout(d time.Duration) LocalOption {
	return func(c *localConfig) { c.startTimeout = d }
}

// WithOutput copies the backend's log (stderr) to w.
func WithOutput(w io.Writer) LocalOption { return func(c *localConfig) { c.output = w } }

// WithClientOptions configures the Client of the returned Local.
func WithClientOptions(opts ...ClientOption) LocalOption {
	return func(c *localConfig) { c.clientOpts = append(c.clientOpts, opts...) }
}

// StartLocal starts `python3 -m reagent_backend serve` on 127.0.0.1 and
// waits until it answers /health. ctx bounds the start only; the process
// runs until Stop, which the caller must call (it also removes the
// temporary copy of the backend's source).
func StartLocal(ctx context.Context, opts ...LocalOption) (*Local, error) {
	cfg := localConfig{python: Python(), model: "tiny", device: "cpu", startTimeout: 3 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	dir := cfg.backendDir
	l := &Local{done: make(chan struct{}), stderr: newTailBuffer(16 << 10)}
	if dir == "" {
		tmp, err := extractBackend()
		if err != nil {
			return nil, err
		}
		l.tmpDir, dir = tmp, tmp
	} else if _, err := os.Stat(filepath.Join(dir, "reagent_backend", "__main__.py")); err != nil {
		return nil, fmt.Errorf("ppo: backend folder %s has no reagent_backend package: %w", dir, err)
	}
	args := []string{"-m", "reagent_backend", "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(cfg.port),
		"--model", cfg.model, "--device", cfg.device, "--seed", strconv.Itoa(cfg.seed)}
	if cfg.algo != "" {
		args = append(args, "--algo", cfg.algo)
	}
	if cfg.lr > 0 {
		args = append(args, "--lr", strconv.FormatFloat(cfg.lr, 'g', -1, 64))
	}
	if cfg.checkpoint != "" {
		args = append(args, "--checkpoint", cfg.checkpoint)
	}
	args = append(args, cfg.args...)
	cmd := exec.Command(cfg.python, args...)
	// The backend runs in this process's working directory (its code comes
	// from PYTHONPATH), so relative checkpoint folders mean the same to both.
	env := append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	pp := dir
	if old := os.Getenv("PYTHONPATH"); old != "" {
		pp += string(os.PathListSeparator) + old
	}
	env = append(env, "PYTHONPATH="+pp)
	cmd.Env = append(env, cfg.env...)
	cmd.SysProcAttr = sysProcAttr()
	var errOut io.Writer = l.stderr
	if cfg.output != nil {
		errOut = io.MultiWriter(l.stderr, cfg.output)
	}
	cmd.Stderr = errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.cleanup()
		return nil, fmt.Errorf("ppo: backend stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		l.cleanup()
		return nil, fmt.Errorf("ppo: start %s (set WithPython to an interpreter with PyTorch): %w", cfg.python, err)
	}
	l.cmd = cmd

	// The first stdout line says where the server listens.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				first = false
				if u, err := parseListening(sc.Bytes()); err == nil {
					addr <- u
				} else {
					fmt.Fprintf(errOut, "unexpected first line: %v\n", err)
				}
				continue
			}
			fmt.Fprintln(errOut, sc.Text())
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		l.waitErr = cmd.Wait()
		close(l.done)
	}()

	sctx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	var u string
	select {
	case u = <-addr:
	case <-l.done:
		err := l.exitError("exited before listening")
		l.cleanup()
		return nil, err
	case <-sctx.Done():
		l.Stop()
		return nil, fmt.Errorf("ppo: backend did not start within %v: %w (log: %s)", cfg.startTimeout, sctx.Err(), l.stderr.String())
	}
	l.URL = u
	l.Client, err = NewClient(u, cfg.clientOpts...)
	if err != nil {
		l.Stop()
		return nil, err
	}
	for {
		_, err := l.Client.Health(sctx)
		if err == nil {
			return l, nil
		}
		select {
		case <-l.done:
			err := l.exitError("exited during start")
			l.cleanup()
			return nil, err
		case <-sctx.Done():
			l.Stop()
			return nil, fmt.Errorf("ppo: backend at %s not healthy: %w", u, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parseListening reads the backend's first stdout line,
// {"listening": "http://127.0.0.1:PORT", ...}.
func parseListening(line []byte) (string, error) {
	var v struct {
		Listening string `json:"listening"`
		Port      int    `json:"port"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return "", fmt.Errorf("ppo: backend announce line %q: %w", snippetString(line), err)
	}
	if !strings.HasPrefix(v.Listening, "http://") || v.Port <= 0 || v.Port > 65535 {
		return "", fmt.Errorf("ppo: backend announce line %q: no usable address", snippetString(line))
	}
	return v.Listening, nil
}

func snippetString(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func (l *Local) exitError(what string) error {
	log := l.stderr.String()
	err := fmt.Errorf("ppo: backend %s (%v); its log ends: %s", what, l.waitErr, log)
	if strings.Contains(log, "No module named 'torch'") {
		return fmt.Errorf("%w: %w", ErrNoTorch, err)
	}
	return err
}

// Stop terminates the backend (SIGTERM, then SIGKILL after 10 seconds),
// waits for it and removes its temporary files. It is safe to call twice.
func (l *Local) Stop() error {
	l.stopped.Do(func() {
		if l.cmd != nil && l.cmd.Process != nil {
			select {
			case <-l.done:
			default:
				terminate(l.cmd.Process)
				select {
				case <-l.done:
				case <-time.After(10 * time.Second):
					kill(l.cmd.Process)
					<-l.done
				}
			}
		}
		l.cleanup()
	})
	return l.stopErr
}

// Done is closed when the backend process has exited.
func (l *Local) Done() <-chan struct{} { return l.done }

// PID returns the backend's process id.
func (l *Local) PID() int {
	if l.cmd == nil || l.cmd.Process == nil {
		return 0
	}
	return l.cmd.Process.Pid
}

// Log returns the end of the backend's log.
func (l *Local) Log() string { return l.stderr.String() }

func (l *Local) cleanup() {
	if l.tmpDir != "" {
		if err := os.RemoveAll(l.tmpDir); err != nil && l.stopErr == nil {
			l.stopErr = fmt.Errorf("ppo: remove %s: %w", l.tmpDir, err)
		}
		l.tmpDir = ""
	}
}

// extractBackend writes the embedded Python package to a temporary folder.
func extractBackend() (string, error) {
	tmp, err := os.MkdirTemp("", "reagent-backend-")
	if err != nil {
		return "", fmt.Errorf("ppo: temporary folder for the backend: %w", err)
	}
	err = fs.WalkDir(backendSource, "backend", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := backendSource.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(p, "backend/")))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("ppo: write the backend's source: %w", err)
	}
	return tmp, nil
}

// tailBuffer keeps the last n bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
