package tinylm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// maxHeaderLen bounds the JSON header of a safetensors file (the reference
// implementation uses the same 100 MB limit).
const maxHeaderLen = 100 << 20

// tensorInfo is one entry of a safetensors header.
type tensorInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// safetensors is a parsed file: its tensors' descriptions, its metadata
// and the data section the offsets point into.
type safetensors struct {
	tensors  map[string]tensorInfo
	metadata map[string]string
	data     []byte
}

// parseSafetensors checks the framing and header of a safetensors file held
// in memory: the 8-byte little-endian header length, the JSON header and
// every tensor's offsets against the data that follows.
func parseSafetensors(file []byte) (*safetensors, error) {
	if len(file) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is too short for the 8-byte header length", len(file))
	}
	n := binary.LittleEndian.Uint64(file)
	if n > maxHeaderLen {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d byte limit", n, maxHeaderLen)
	}
	if n > uint64(len(file)-8) {
		return nil, fmt.Errorf("safetensors: header length %d but only %d bytes follow (truncated file?)", n, len(file)-8)
	}
	header := file[8 : 8+n]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	st := &safetensors{tensors: make(map[string]tensorInfo, len(raw)), data: file[8+n:]}
	type span struct {
		name       string
		start, end int64
	}
	spans := make([]span, 0, len(raw))
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &st.metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var ti tensorInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		size, ok := dtypeSize(ti.DType)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q has unknown dtype %q", name, ti.DType)
		}
		if len(ti.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets has %d values, want 2", name, len(ti.DataOffsets))
		}
		start, end := ti.DataOffsets[0], ti.DataOffsets[1]
		if start < 0 || end < start || end > int64(len(st.data)) {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d data bytes (truncated file?)", name, start, end, len(st.data))
		}
		count, ok := numElements(ti.Shape)
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q has invalid shape %v", name, ti.Shape)
		}
		if count > math.MaxInt64/size || count*size != end-start {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, offsets give %d", name, ti.Shape, ti.DType, count*size, end-start)
		}
		st.tensors[name] = ti
		spans = append(spans, span{name, start, end})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return st, nil
}

// dtypeSize returns the bytes per element of a safetensors dtype.
func dtypeSize(dtype string) (int64, bool) {
	switch dtype {
	case "F64", "I64", "U64":
		return 8, true
	case "F32", "I32", "U32":
		return 4, true
	case "F16", "BF16", "I16", "U16":
		return 2, true
	case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2":
		return 1, true
	}
	return 0, false
}

// numElements multiplies out a shape, refusing negative dimensions and
// overflow.
func numElements(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// float32s returns the named F32 tensor as a new slice after checking its
// shape.
func (st *safetensors) float32s(name string, shape ...int) ([]float32, error) {
	ti, ok := st.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: missing tensor %q", name)
	}
	if ti.DType != "F32" {
		return nil, fmt.Errorf("safetensors: tensor %q is %s, want F32", name, ti.DType)
	}
	if !sameShape(ti.Shape, shape) {
		return nil, fmt.Errorf("safetensors: tensor %q has shape %v, want %v (does config.json match the weights?)", name, ti.Shape, shape)
	}
	raw := st.data[ti.DataOffsets[0]:ti.DataOffsets[1]]
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

func sameShape(got []int64, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != int64(want[i]) {
			return false
		}
	}
	return true
}
