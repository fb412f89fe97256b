package tinylm

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// The weights built into the binary: the embedded policy that
// scripts/train-policy.sh trains on the bundled suites.
//
//go:embed weights
var embedded embed.FS

var (
	embeddedFS  fs.FS = embedded
	embeddedDir       = "weights"
)

// ExportDefault writes the embedded model's files into dir, so that the
// Python backend can start training from the same weights.
func ExportDefault(dir string) error {
	if embeddedFS == nil {
		return ErrNoEmbeddedModel
	}
	for _, name := range []string{WeightsFile, ConfigFile} {
		data, err := fs.ReadFile(embeddedFS, path.Join(embeddedDir, name))
		if err != nil {
			return fmt.Errorf("tinylm: embedded %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("tinylm: export %s: %w", name, err)
		}
	}
	return nil
}
