package tinylm

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// The weights built into the binary. To ship a trained model, put its
// model.safetensors and config.json in a directory here and replace these
// two declarations with
//
//	//go:embed weights
//	var embedded embed.FS
//
// and embeddedFS = embedded, embeddedDir = "weights".
var (
	embeddedFS  fs.FS
	embeddedDir = "."
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
