package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const petstore = `
openapi: "3.0.3"
info: {title: Pets, version: "1"}
servers:
  - url: /{version}
    variables:
      version: {default: v1}
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      parameters:
        - {name: limit, in: query, description: How many to return, schema: {type: integer, maximum: 100}}
        - $ref: "#/components/parameters/RequestID"
    post:
      operationId: createPet
      summary: Create a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: string}}
    get:
      operationId: showPetById
      description: Info for a specific pet
    delete:
      operationId: deletePet
  /pets/{petId}/photo:
    post:
      operationId: uploadPhoto
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object}
components:
  parameters:
    RequestID: {name: X-Request-ID, in: header, schema: {type: string}}
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string, nullable: true}
        owner: {$ref: "#/components/schemas/Person"}
    Person:
      type: object
      properties:
        name: {type: string}
        friends: {type: array, items: {$ref: "#/components/schemas/Person"}}
`

func TestFromOpenAPI(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Request-ID")+" "+r.Header.Get("Authorization")+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	_, err := FromOpenAPI([]byte(petstore), WithBaseURL(srv.URL), WithPolicy(loopbackOK))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "POST /pets/{petId}/photo: request body types [multipart/form-data] are not supported (only JSON)")
	assert.Contains(t, err.Error(), "WithSkipUnsupported")

	tools, err := FromOpenAPI([]byte(petstore), WithBaseURL(srv.URL), WithPolicy(loopbackOK), WithSkipUnsupported(),
		WithHeader("Authorization", "Bearer ${PET_TOKEN}"), env(map[string]string{"PET_TOKEN": "pet-secret"}))
	require.NoError(t, err)
	byName := map[string]*Tool{}
	var names []string
	for _, tl := range tools {
		byName[tl.Name()] = tl
		names = append(names, tl.Name())
	}
	assert.Equal(t, []string{"listPets", "createPet", "showPetById", "deletePet"}, names)

	spec := byName["listPets"].ToolSpec()
	assert.Equal(t, "List pets", spec.Description)
	assert.Equal(t, []string{"read-only", "egress", "secret"}, spec.Tags)
	assert.JSONEq(t, `{"type":"object","additionalProperties":false,"properties":{
		"limit":{"type":"integer","maximum":100,"description":"How many to return"},
		"X-Request-ID":{"type":"string"}}}`, string(spec.Parameters))

	create := byName["createPet"].ToolSpec()
	var schema map[string]any
	require.NoError(t, json.Unmarshal(create.Parameters, &schema))
	assert.Equal(t, []any{"body"}, schema["required"])
	body := schema["properties"].(map[string]any)["body"].(map[string]any)
	assert.Equal(t, []any{"string", "null"}, body["properties"].(map[string]any)["tag"].(map[string]any)["type"], "nullable becomes a null type")
	friends := body["properties"].(map[string]any)["owner"].(map[string]any)["properties"].(map[string]any)["friends"].(map[string]any)
	assert.Contains(t, friends["items"].(map[string]any)["description"], "recursive", "a cyclic $ref is cut")

	assert.Equal(t, "HTTP 200 OK\n{\"ok\":true}", callTool(t, byName["listPets"], `{"limit":5,"X-Request-ID":"r-1"}`))
	callTool(t, byName["showPetById"], `{"petId":"p 1"}`)
	callTool(t, byName["createPet"], `{"body":{"name":"Rex","tag":null}}`)
	callTool(t, byName["deletePet"], `{"petId":"p1"}`)
	assert.Contains(t, callTool(t, byName["createPet"], `{"body":{"tag":"x"}}`), "invalid arguments: at /body: missing property 'name'")
	assert.Contains(t, callTool(t, byName["listPets"], `{"limit":500}`), "invalid arguments: at /limit: maximum")
	require.Len(t, got, 4)
	assert.Equal(t, "GET /v1/pets?limit=5 r-1 Bearer pet-secret ", got[0])
	assert.Equal(t, "GET /v1/pets/p%201  Bearer pet-secret ", got[1])
	assert.Equal(t, `POST /v1/pets  Bearer pet-secret {"name":"Rex","tag":null}`, got[2])
	assert.Equal(t, "DELETE /v1/pets/p1  Bearer pet-secret ", got[3])

	only, err := FromOpenAPI([]byte(petstore), WithBaseURL(srv.URL), WithOperations("showPetById"), env(map[string]string{}))
	require.NoError(t, err)
	require.Len(t, only, 1)
	assert.Equal(t, "Info for a specific pet", only[0].Description())
}

func TestFromOpenAPIErrors(t *testing.T) {
	for doc, msg := range map[string]string{
		`swagger: "2.0"`: `want an OpenAPI 3 document`,
		`openapi: 3.0.0`: "relative; pass WithBaseURL",
		`[1, 2]`:         "not an object",
		`openapi: 3.0.0` + "\nservers: [{url: 'https://{region}.example.com'}]":                                              "variable without a default",
		"openapi: 3.0.0\nservers: [{url: 'https://a.example'}]\npaths: {/a: {get: {parameters: [{$ref: 'other.yaml#/p'}]}}}": "only local references",
		"openapi: 3.0.0\nservers: [{url: 'https://a.example'}]\npaths: {}":                                                   "no operations",
		"openapi: 3.0.0\nservers: [{url: 'https://a.example'}]\npaths: {'/a/{id}': {get: {}}}":                               "path placeholder {id} has no parameter",
	} {
		_, err := FromOpenAPI([]byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), msg, doc)
	}
	specs, err := OpenAPISpecs([]byte("openapi: 3.1.0\nservers: [{url: 'https://a.example/api/'}]\npaths: {'/a b/{x}': {put: {parameters: [{name: x, in: path}]}}}"))
	require.NoError(t, err)
	require.Len(t, specs, 1)
	assert.Equal(t, "put_a_b_x", specs[0].Name)
	assert.Equal(t, "https://a.example/api/a b/{x}", specs[0].URL)
	assert.True(t, strings.Contains(string(specs[0].Schema), `"required":["x"]`))
}
