// Package ppo is the Go side of reagent's reinforcement-learning loop: it
// turns recorded trajectories into GRPO/PPO training groups, computes the
// same advantages the trainer does (for exports and checks), and drives the
// PyTorch backend in ppo/backend over HTTP, starting it locally if asked.
//
// The backend (python3 -m reagent_backend serve) is both a policy server
// speaking the OpenAI chat API and a trainer: POST /v1/train applies one
// GRPO or PPO step to the served weights, so rollouts always sample from the
// current policy.
package ppo
