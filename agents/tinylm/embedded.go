package tinylm

import "io/fs"

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
