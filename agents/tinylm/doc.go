// Package tinylm runs the project's built-in tiny transformer ("tiny", see
// docs/tiny-model.md) in pure Go: a byte-level tokenizer with a chat
// template, a GPT-2 style forward pass with a KV cache, and sampling. A
// loaded *Model implements langchaingo's llms.Model, so any langchaingo
// agent can use it offline, and package serve exposes it over the OpenAI
// chat API.
//
// The weights come from a directory holding model.safetensors and
// config.json, as written by the PyTorch backend in ppo/backend.
package tinylm
