package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/reagent-go/reagent/internal/llmtest"
	"github.com/reagent-go/reagent/internal/tinytest"
)

// The model is scripted; the tools, the API and the agent are real.
func TestAPIExampleAnswersWithThreeTools(t *testing.T) {
	srv := llmtest.New(t,
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			{ID: "a", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{ID: "b", Name: "search_items", Arguments: `{"q":"umbrella"}`},
			{ID: "c", Name: "convert_currency", Arguments: `{"amount":20,"from":"EUR","to":"YEN"}`},
		}},
		llmtest.Reply{ToolCalls: []llmtest.ToolCall{{ID: "d", Name: "convert_currency", Arguments: `{"amount":20,"from":"EUR","to":"USD"}`}}},
		llmtest.Reply{Content: "Light rain, 14°C in Paris; 15 umbrellas in stock; 20 EUR is 21.6 USD."},
	)
	env := map[string]string{"OPENAI_BASE_URL": srv.URL, "OPENAI_API_KEY": "test", "REAGENT_MODEL": "m", "DEMO_API_TOKEN": "tok-example-1234"}
	var out bytes.Buffer
	require.NoError(t, runExample(context.Background(), &out, func(k string) string { return env[k] }, nil))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, `get_weather {"city":"Paris"}`+"\n    -> HTTP 200 OK {\"city\":\"Paris\",\"conditions\":\"light rain\",\"temp_c\":14}")
	assert.Contains(t, s, `"name":"Golf umbrella","sku":"UMB-02","stock":3`)
	assert.Contains(t, s, `convert_currency: invalid arguments: at /to: value must be one of`, "the schema caught a bad currency before any request")
	assert.Contains(t, s, `{"amount":20,"result":21.6}`)
	assert.Contains(t, s, "answer: Light rain")
	assert.Contains(t, s, `the audit redactor hides the API token: "Authorization: Bearer [REDACTED:secret]"`)
	assert.NotContains(t, s, "tok-example-1234")

	// Each tool went to the model with its schema.
	tools := string(srv.Requests()[0].Tools)
	assert.Contains(t, tools, `"name":"search_items"`)
	assert.Contains(t, tools, `"maximum":50`)
	assert.Contains(t, tools, `"enum":["EUR","USD","GBP"]`)
}

func TestAPIExampleSaysWhatToSet(t *testing.T) {
	err := runExample(context.Background(), &bytes.Buffer{}, func(string) string { return "" }, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OPENAI_BASE_URL")
	assert.Contains(t, err.Error(), "REAGENT_MODEL")
}

// TestAPIExampleRunsWithTheEmbeddedPolicy follows the help: with the
// embedded policy (served here in process, as `reagent serve-model` serves
// it) the example runs end to end offline, and the judge says what the
// answer is worth.
func TestAPIExampleRunsWithTheEmbeddedPolicy(t *testing.T) {
	help := runExample(context.Background(), &bytes.Buffer{}, func(string) string { return "" }, nil)
	require.Error(t, help)
	assert.Contains(t, help.Error(), "REAGENT_MODEL=tiny")
	assert.Contains(t, help.Error(), "general tool-calling model")
	env := map[string]string{"OPENAI_BASE_URL": tinytest.Serve(t), "OPENAI_API_KEY": "any", "REAGENT_MODEL": "tiny", "DEMO_API_TOKEN": "tok-example-1234"}
	var out bytes.Buffer
	require.NoError(t, runExample(context.Background(), &out, func(k string) string { return env[k] }, nil))
	s := out.String()
	t.Log(s)
	assert.Contains(t, s, "RRM score ")
	assert.NotContains(t, s, "exceeds the model's context")
	assert.NotContains(t, s, "tok-example-1234")
}
