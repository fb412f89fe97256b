package ppo

import (
	"fmt"
	"math"

	"github.com/reagent-go/reagent/trajectory"
)

// Report counts what BuildGroups kept and dropped.
type Report struct {
	Trajectories int `json:"trajectories"`
	Samples      int `json:"samples"`
	Groups       int `json:"groups"`
	// NoReward counts trajectories whose reward was unavailable (for example
	// a judge that failed); they are dropped, never scored as 0.
	NoReward int `json:"no_reward"`
	// BadReward counts rewards that were NaN or infinite.
	BadReward int `json:"bad_reward"`
	// Invalid counts trajectories whose chat view the backend would refuse
	// (no assistant message, a tool call without a name, ...).
	Invalid int `json:"invalid"`
	// Nil counts nil entries in the input.
	Nil int `json:"nil"`
	// Singletons counts groups left with one sample: their GRPO advantage is
	// 0, so they teach nothing (PPO still uses them).
	Singletons int `json:"singletons"`
	// Ungrouped counts trajectories without a GroupID; each forms its own
	// group.
	Ungrouped int `json:"ungrouped"`
	// Reasons holds one line per dropped trajectory, for logs.
	Reasons []string `json:"reasons,omitempty"`
}

// Dropped is the number of trajectories that did not become samples.
func (r Report) Dropped() int { return r.NoReward + r.BadReward + r.Invalid + r.Nil }

// RewardFunc returns a trajectory's reward, or false when it has none.
type RewardFunc func(*trajectory.Trajectory) (float64, bool)

// BuildGroups turns trajectories into training groups: one group per
// Trajectory.GroupID (in order of first appearance; a trajectory without a
// GroupID is a group of its own), one sample per trajectory from its chat
// view with the trainable mask. Trajectories whose reward is unavailable or
// whose chat the backend would refuse are dropped and counted.
func BuildGroups(trajs []*trajectory.Trajectory, reward RewardFunc) ([]Group, Report) {
	rep := Report{Trajectories: len(trajs)}
	index := map[string]int{}
	var groups []Group
	for i, t := range trajs {
		if t == nil {
			rep.Nil++
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("trajectories[%d]: nil", i))
			continue
		}
		r, ok := reward(t)
		if !ok {
			rep.NoReward++
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("trajectory %s: no reward", t.ID))
			continue
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			rep.BadReward++
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("trajectory %s: reward %v is not finite", t.ID, r))
			continue
		}
		c := t.Chat()
		s := Sample{Messages: c.Messages, Trainable: c.Trainable, Reward: r, TrajectoryID: t.ID}
		if err := s.Validate(); err != nil {
			rep.Invalid++
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("trajectory %s: %v", t.ID, err))
			continue
		}
		key := t.GroupID
		if key == "" {
			rep.Ungrouped++
			key = "\x00" + fmt.Sprint(i) // cannot collide with a real GroupID
		}
		gi, seen := index[key]
		if !seen {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, Group{ID: t.GroupID})
		}
		groups[gi].Samples = append(groups[gi].Samples, s)
		rep.Samples++
	}
	rep.Groups = len(groups)
	for _, g := range groups {
		if len(g.Samples) == 1 {
			rep.Singletons++
		}
	}
	return groups, rep
}
