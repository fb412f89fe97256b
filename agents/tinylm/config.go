package tinylm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Config is the shape of the model, as in config.json.
type Config struct {
	VocabSize int `json:"vocab_size"`
	DModel    int `json:"d_model"`
	NLayer    int `json:"n_layer"`
	NHead     int `json:"n_head"`
	MaxSeq    int `json:"max_seq"`
	// PrevTokens adds to each position's input an embedding of each of its
	// PrevTokens previous tokens: prev_emb.weight for the token before,
	// prev_emb2.weight for the one before that, and so on (before the
	// sequence's start every previous token is <|pad|>). Optional: 0 when
	// absent. The older key prev_token_emb (true or false) reads as 1 or 0.
	PrevTokens int `json:"prev_tokens,omitempty"`
}

// MaxPrevTokens is the most previous-token embeddings a config may ask for.
const MaxPrevTokens = 8

// prevEmbName is the tensor of the k-th previous token's embedding (k ≥ 1).
func prevEmbName(k int) string {
	if k == 1 {
		return "prev_emb.weight"
	}
	return fmt.Sprintf("prev_emb%d.weight", k)
}

// DefaultConfig returns the shape of the built-in model.
func DefaultConfig() Config {
	return Config{VocabSize: VocabSize, DModel: 128, NLayer: 4, NHead: 4, MaxSeq: 1024}
}

// Limits that keep a corrupt config from asking for absurd allocations.
const (
	maxDModel = 1 << 13
	maxLayers = 256
	maxSeqLen = 1 << 16
)

// Validate reports the first problem with the shape, if any.
func (c Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("tinylm: config: %w", err)
	}
	return nil
}

func (c Config) validate() error {
	switch {
	case c.VocabSize != VocabSize:
		return fmt.Errorf("vocab_size %d, want %d (the byte tokenizer's size)", c.VocabSize, VocabSize)
	case c.DModel <= 0 || c.DModel > maxDModel:
		return fmt.Errorf("d_model %d out of range 1..%d", c.DModel, maxDModel)
	case c.NLayer <= 0 || c.NLayer > maxLayers:
		return fmt.Errorf("n_layer %d out of range 1..%d", c.NLayer, maxLayers)
	case c.NHead <= 0 || c.DModel%c.NHead != 0:
		return fmt.Errorf("n_head %d must be positive and divide d_model %d", c.NHead, c.DModel)
	case c.MaxSeq <= 0 || c.MaxSeq > maxSeqLen:
		return fmt.Errorf("max_seq %d out of range 1..%d", c.MaxSeq, maxSeqLen)
	case c.PrevTokens < 0 || c.PrevTokens > MaxPrevTokens:
		return fmt.Errorf("prev_tokens %d out of range 0..%d", c.PrevTokens, MaxPrevTokens)
	}
	return nil
}

// parseConfig decodes a config.json document; unknown keys (training
// settings) are ignored, missing shape keys are an error. The caller says
// where the document came from.
func parseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, err
	}
	for _, k := range []string{"vocab_size", "d_model", "n_layer", "n_head", "max_seq"} {
		if _, ok := raw[k]; !ok {
			return Config{}, fmt.Errorf("missing %q", k)
		}
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, err
	}
	if legacy, ok := raw["prev_token_emb"]; ok {
		var on bool
		if err := json.Unmarshal(legacy, &on); err != nil {
			return Config{}, fmt.Errorf("prev_token_emb must be true or false: %w", err)
		}
		n := 0
		if on {
			n = 1
		}
		if _, both := raw["prev_tokens"]; both && c.PrevTokens != n {
			return Config{}, fmt.Errorf("prev_token_emb %v contradicts prev_tokens %d", on, c.PrevTokens)
		}
		c.PrevTokens = n
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

var errNoConfig = errors.New("no config.json and no config in the safetensors metadata")
