package approval

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Environment variables that WithSealKeyFromEnv reads (and `reagent
// approve` with it).
const (
	// EnvSealKey holds the current seal key: 32 random bytes, base64
	// (`openssl rand -base64 32`) or hex (`openssl rand -hex 32`).
	EnvSealKey = "REAGENT_APPROVAL_KEY"
	// EnvOldSealKeys holds earlier seal keys, separated by commas or
	// spaces, in the same encodings: they open requests sealed before a
	// rotation and seal nothing.
	EnvOldSealKeys = "REAGENT_APPROVAL_OLD_KEYS"
)

// SealKeySize is the length of a seal key in bytes (AES-256).
const SealKeySize = 32

// sealAlg names the cipher in sealed records.
const sealAlg = "A256GCM"

// ErrSealKey is wrapped by Unseal when the request was sealed and no
// configured key (WithSealKey, WithOldSealKeys, REAGENT_APPROVAL_KEY)
// has the key ID it was sealed with.
var ErrSealKey = errors.New("approval: no configured key opens the sealed request")

// ErrSealBroken is wrapped by Unseal when a sealed request does not open
// with the key it names: the record was altered, its sealed copy was
// moved from another request, or the key with that ID is not the one it
// was sealed with. Nothing of it may run.
var ErrSealBroken = errors.New("approval: the sealed request does not authenticate")

// ErrRedactedOnly is wrapped by Unseal when the call carried a secret and
// was paused while Durable had no seal key: only its redacted form was
// stored, so it cannot be resumed. Deny it, and configure a key so that
// later requests can be.
var ErrRedactedOnly = errors.New("approval: the call carried a secret and only its redacted form was stored (no seal key was configured when it paused)")

// sealKey is one AES-256-GCM key and its ID.
type sealKey struct {
	id   string
	aead cipher.AEAD
}

func newSealKey(key []byte) (*sealKey, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("approval: a seal key must be %d bytes (AES-256), got %d; make one with `openssl rand -base64 32`", SealKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("approval: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("approval: seal key: %w", err)
	}
	return &sealKey{id: SealKeyID(key), aead: aead}, nil
}

// SealKeyID returns the ID that sealed records carry for key: the first
// 8 bytes of a SHA-256 of the key (with a label of its own), in hex. It
// tells which key opens a record without revealing the key.
func SealKeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("reagent approval seal key id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ParseSealKey decodes a seal key written as 64 hex digits or as base64
// (standard or URL alphabet, padded or not) of 32 bytes. Surrounding
// space is ignored. The error never repeats the text.
func ParseSealKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("approval: the seal key is empty")
	}
	if len(s) == 2*SealKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != SealKeySize {
				return nil, fmt.Errorf("approval: the seal key decodes to %d bytes, want %d; make one with `openssl rand -base64 32`", len(b), SealKeySize)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("approval: the seal key is neither 64 hex digits nor base64 of %d bytes; make one with `openssl rand -base64 32`", SealKeySize)
}

// WithSealKey seals what a paused run needs to resume, its exact tool call
// and its host's resume state, with AES-256-GCM under key (32 bytes; see
// ParseSealKey) in each approval-request record. The record's readable
// part holds only the redacted call. Unseal, and so Resume, then needs a
// Durable with the same key (or with it among WithOldSealKeys). Without a
// seal key, Durable stores only the redacted call and its redacted state,
// and a call that carried a secret cannot be resumed (ErrRedactedOnly).
func WithSealKey(key []byte) DurableOption {
	return func(d *Durable) {
		k, err := newSealKey(key)
		if err != nil {
			d.err = errors.Join(d.err, err)
			return
		}
		d.sealWith = k
		d.addOpenKey(k)
	}
}

// WithOldSealKeys adds keys that open requests sealed before a key
// rotation; they seal nothing. Each is 32 bytes.
func WithOldSealKeys(keys ...[]byte) DurableOption {
	return func(d *Durable) {
		for i, key := range keys {
			k, err := newSealKey(key)
			if err != nil {
				d.err = errors.Join(d.err, fmt.Errorf("old seal key %d: %w", i+1, err))
				continue
			}
			d.addOpenKey(k)
		}
	}
}

// WithSealKeyFromEnv reads the seal key from REAGENT_APPROVAL_KEY and old
// keys from REAGENT_APPROVAL_OLD_KEYS through getenv (os.Getenv when nil);
// see WithSealKey. An unset REAGENT_APPROVAL_KEY configures no key; a value
// that does not decode makes NewDurable fail.
func WithSealKeyFromEnv(getenv func(string) string) DurableOption {
	if getenv == nil {
		getenv = os.Getenv
	}
	return func(d *Durable) {
		if v := getenv(EnvSealKey); strings.TrimSpace(v) != "" {
			key, err := ParseSealKey(v)
			if err != nil {
				d.err = errors.Join(d.err, fmt.Errorf("%s: %w", EnvSealKey, err))
			} else {
				WithSealKey(key)(d)
			}
		}
		for i, v := range strings.FieldsFunc(getenv(EnvOldSealKeys), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			key, err := ParseSealKey(v)
			if err != nil {
				d.err = errors.Join(d.err, fmt.Errorf("%s, key %d: %w", EnvOldSealKeys, i+1, err))
				continue
			}
			WithOldSealKeys(key)(d)
		}
	}
}

func (d *Durable) addOpenKey(k *sealKey) {
	if d.openWith == nil {
		d.openWith = map[string]*sealKey{}
	}
	if _, dup := d.openWith[k.id]; !dup {
		d.openWith[k.id] = k
	}
}

// sealed is the encrypted part of an approval-request record.
type sealed struct {
	Alg   string `json:"alg"`
	KeyID string `json:"kid"`
	Nonce []byte `json:"nonce"`
	Data  []byte `json:"data"` // ciphertext and GCM tag
}

// sealAAD binds a sealed copy to its record: the run ID and the request ID,
// each with its length, after a label with the format version.
func sealAAD(runID, requestID string) []byte {
	const label = "reagent approval request v2\x00"
	b := make([]byte, 0, len(label)+16+len(runID)+len(requestID))
	b = append(b, label...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(runID)))
	b = append(b, runID...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(requestID)))
	b = append(b, requestID...)
	return b
}

func (k *sealKey) seal(plain []byte, runID, requestID string) (*sealed, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("approval: seal: %w", err)
	}
	return &sealed{Alg: sealAlg, KeyID: k.id, Nonce: nonce, Data: k.aead.Seal(nil, nonce, plain, sealAAD(runID, requestID))}, nil
}

// open authenticates and decrypts s for the record of runID and requestID.
func (d *Durable) open(s *sealed, runID, requestID string) ([]byte, error) {
	if s.Alg != sealAlg {
		return nil, fmt.Errorf("%w: unknown cipher %q", ErrSealBroken, s.Alg)
	}
	k := d.openWith[s.KeyID]
	if k == nil {
		hint := "none is configured"
		if len(d.openWith) > 0 {
			ids := make([]string, 0, len(d.openWith))
			for id := range d.openWith {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			hint = "configured: " + strings.Join(ids, ", ")
		}
		return nil, fmt.Errorf("%w: it was sealed with key %s (%s); set %s to that key, or add it to %s after a rotation (approval.WithSealKey, WithOldSealKeys)",
			ErrSealKey, s.KeyID, hint, EnvSealKey, EnvOldSealKeys)
	}
	if len(s.Nonce) != k.aead.NonceSize() {
		return nil, fmt.Errorf("%w: nonce of %d bytes", ErrSealBroken, len(s.Nonce))
	}
	plain, err := k.aead.Open(nil, s.Nonce, s.Data, sealAAD(runID, requestID))
	if err != nil {
		return nil, fmt.Errorf("%w (key %s): %v", ErrSealBroken, s.KeyID, err)
	}
	return plain, nil
}

// Seals reports whether d keeps the exact call of new requests sealed (it
// has a seal key). A host whose resume state is opaque to the redactor
// (eino's compressed checkpoint) needs it: only the sealed copy may hold
// such state.
func (d *Durable) Seals() bool { return d.sealWith != nil }
