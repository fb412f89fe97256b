package trajectory

import (
	"fmt"
	"strings"
)

// Chat is the trajectory as chat messages in the OpenAI shape, for
// fine-tuning. Trainable[i] is true when Messages[i] was produced by the
// agent's own model; prompts, tool observations and injected critiques are
// not trainable, so trainers give their tokens no loss.
type Chat struct {
	Messages  []Message `json:"messages"`
	Trainable []bool    `json:"trainable"`
}

// Chat returns the chat-message view of the run. The prompt of the first LLM
// call (when it was recorded) opens the conversation; otherwise the task is
// the single user message. Each step adds the model's completion (with its
// tool calls) and one tool message per observation.
func (t *Trajectory) Chat() Chat {
	var c Chat
	add := func(m Message, trainable bool) {
		c.Messages = append(c.Messages, m)
		c.Trainable = append(c.Trainable, trainable)
	}
	opened := false
	for _, s := range t.Steps {
		if !opened {
			opened = true
			if len(s.LLMCalls) > 0 && len(s.LLMCalls[0].Messages) > 0 {
				for _, m := range s.LLMCalls[0].Messages {
					add(m, false)
				}
			} else {
				add(Message{Role: "user", Content: t.Task}, false)
			}
		}
		if s.Critique != "" && !promptHas(s, s.Critique) {
			// The recorded prompt already holds the injected critique when it
			// was captured; otherwise show it where the model read it.
			add(Message{Role: "system", Content: s.Critique}, false)
		}
		var completion string
		var specs []ToolCallSpec
		if n := len(s.LLMCalls); n > 0 {
			last := s.LLMCalls[n-1]
			completion, specs = last.Completion, last.ToolCalls
		}
		if completion == "" && len(specs) == 0 {
			// A hand-built agent without a wrapped model: rebuild the turn
			// from what Plan returned.
			completion = s.Thought
			if s.Final {
				completion = s.Answer
			}
		}
		ids := make([]string, len(s.Calls))
		for i, call := range s.Calls {
			ids[i] = call.ID
			if ids[i] == "" {
				ids[i] = fmt.Sprintf("call_%d_%d", s.Index, i)
			}
		}
		if len(specs) == 0 && len(s.Calls) > 0 && completion == "" {
			for i, call := range s.Calls {
				specs = append(specs, ToolCallSpec{ID: ids[i], Name: call.Tool, Arguments: call.Input})
			}
		}
		if completion != "" || len(specs) > 0 {
			add(Message{Role: "assistant", Content: completion, ToolCalls: specs}, true)
		}
		for i, call := range s.Calls {
			add(Message{Role: "tool", Name: call.Tool, Content: call.Observation, ToolCallID: ids[i]}, false)
		}
		if s.ParseError != "" && len(s.Calls) == 0 {
			add(Message{Role: "user", Content: s.ParseError}, false)
		}
	}
	if !opened {
		add(Message{Role: "user", Content: t.Task}, false)
	}
	return c
}

// promptHas reports whether the step's first recorded prompt contains text.
func promptHas(s Step, text string) bool {
	if len(s.LLMCalls) == 0 {
		return false
	}
	for _, m := range s.LLMCalls[0].Messages {
		if strings.Contains(m.Content, text) {
			return true
		}
	}
	return false
}
