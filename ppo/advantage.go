package ppo

import (
	"fmt"
	"math"
)

// GRPOEpsilon is added to the group's standard deviation (DESIGN.md).
const GRPOEpsilon = 1e-6

// GroupAdvantages returns A = (R − mean) / (std + 1e-6) for one group, with
// the population standard deviation, exactly as the backend computes it. A
// group of one sample, or of equal rewards, gets zeros.
func GroupAdvantages(rewards []float64) []float64 {
	out := make([]float64, len(rewards))
	if len(rewards) == 0 {
		return out
	}
	var mean float64
	for _, r := range rewards {
		mean += r
	}
	mean /= float64(len(rewards))
	var ss float64
	for _, r := range rewards {
		ss += (r - mean) * (r - mean)
	}
	std := math.Sqrt(ss / float64(len(rewards)))
	for i, r := range rewards {
		out[i] = (r - mean) / (std + GRPOEpsilon)
	}
	return out
}

// Advantages returns the GRPO advantage of every sample of every group
// (out[g][s] for groups[g].Samples[s]).
func Advantages(groups []Group) [][]float64 {
	out := make([][]float64, len(groups))
	for i, g := range groups {
		r := make([]float64, len(g.Samples))
		for j, s := range g.Samples {
			r[j] = s.Reward
		}
		out[i] = GroupAdvantages(r)
	}
	return out
}

// GAE computes generalised advantage estimates over one sequence of
// trainable tokens: δt = rt + γ·V(t+1) − Vt, At = δt + γλ·A(t+1), with the
// state after the last token terminal; returns are A + V.
func GAE(rewards, values []float64, gamma, lambda float64) (adv, returns []float64, err error) {
	if len(rewards) != len(values) {
		return nil, nil, fmt.Errorf("ppo: GAE: %d rewards but %d values", len(rewards), len(values))
	}
	if gamma < 0 || gamma > 1 || lambda < 0 || lambda > 1 {
		return nil, nil, fmt.Errorf("ppo: GAE: gamma %v and lambda %v must lie in [0, 1]", gamma, lambda)
	}
	n := len(rewards)
	adv = make([]float64, n)
	returns = make([]float64, n)
	var last float64
	for t := n - 1; t >= 0; t-- {
		var next float64
		if t+1 < n {
			next = values[t+1]
		}
		delta := rewards[t] + gamma*next - values[t]
		last = delta + gamma*lambda*last
		adv[t] = last
		returns[t] = last + values[t]
	}
	return adv, returns, nil
}

// TokenRewards builds PPO's per-token rewards over n trainable tokens: the
// KL penalty −β·k1 on every token (k1 = logπ − logπref) and the sequence
// reward added at the last one.
func TokenRewards(reward float64, logp, refLogp []float64, beta float64) ([]float64, error) {
	if len(logp) != len(refLogp) {
		return nil, fmt.Errorf("ppo: TokenRewards: %d log-probs but %d reference log-probs", len(logp), len(refLogp))
	}
	if len(logp) == 0 {
		return nil, fmt.Errorf("ppo: TokenRewards: no trainable tokens")
	}
	out := make([]float64, len(logp))
	for i := range logp {
		out[i] = -beta * KLK1(logp[i], refLogp[i])
	}
	out[len(out)-1] += reward
	return out, nil
}

// Whiten returns (x − mean) / (std + 1e-8) with the population std.
func Whiten(x []float64) []float64 {
	out := make([]float64, len(x))
	if len(x) == 0 {
		return out
	}
	var s, ss float64
	for _, v := range x {
		s += v
		ss += v * v
	}
	n := float64(len(x))
	mean := s / n
	std := math.Sqrt(math.Max(ss/n-mean*mean, 0))
	for i, v := range x {
		out[i] = (v - mean) / (std + 1e-8)
	}
	return out
}

// KLK1 is k1 = logπ − logπref.
func KLK1(logp, refLogp float64) float64 { return logp - refLogp }

// KLK3 is k3 = e^Δ − Δ − 1 with Δ = logπref − logπ.
func KLK3(logp, refLogp float64) float64 {
	d := refLogp - logp
	return math.Exp(d) - d - 1
}

// ClippedLoss is the per-token PPO policy loss max(−A·ρ, −A·clip(ρ, 1−ε,
// 1+ε)) with ρ = exp(logπ − logπold), capped at −c·A when A < 0 and the dual
// clip c > 1 (0 turns the dual clip off).
func ClippedLoss(logp, oldLogp, adv, eps, dualClip float64) float64 {
	ratio := math.Exp(logp - oldLogp)
	l := math.Max(-adv*ratio, -adv*math.Min(math.Max(ratio, 1-eps), 1+eps))
	if dualClip > 0 && adv < 0 {
		l = math.Min(l, -dualClip*adv)
	}
	return l
}
