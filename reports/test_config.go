package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// TestConfig is the part of test.json (harness.Config as each run saves
// it) that the report and the index need. test.json is parsed loosely:
// every field is also kept in Fields so that options added later still
// show up in the configuration table.
type TestConfig struct {
	Name        string
	Seed        string
	Nodes       string
	Nemesis     []string
	Workload    string
	TimeLimit   string
	BrokerArgs  string
	CommandLine string
	Fields      []Field
}

// readTestConfig parses path; a missing file yields an empty config so that
// a partial run directory still renders.
func readTestConfig(path string) (*TestConfig, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &TestConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read test config: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse test.json: %w", err)
	}
	c := &TestConfig{
		Name:        scalarString(m["name"]),
		Seed:        scalarString(m["seed"]),
		Nodes:       listOrScalar(m["nodes"]),
		Nemesis:     stringList(m["nemesis"]),
		Workload:    scalarString(m["workload"]),
		TimeLimit:   scalarString(m["time_limit"]),
		BrokerArgs:  listOrScalar(m["broker_args"]),
		CommandLine: listOrScalar(m["command_line"]),
	}
	for _, k := range sortedKeys(m) {
		c.Fields = append(c.Fields, Field{Name: k, Value: decodeAny(m[k])})
	}
	return c, nil
}

// scalarString renders a JSON string, number or boolean without quotes.
func scalarString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if s, ok := asString(raw); ok {
		return s
	}
	return compactJSON(raw)
}

// listOrScalar renders a list as its elements joined by spaces (argument
// vectors, node lists) and anything else as scalarString does.
func listOrScalar(raw json.RawMessage) string {
	var list []json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '[' && json.Unmarshal(raw, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, e := range list {
			parts = append(parts, scalarString(e))
		}
		return strings.Join(parts, " ")
	}
	return scalarString(raw)
}

// stringList accepts ["kill","pause"] or "kill,pause".
func stringList(raw json.RawMessage) []string {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			if s := scalarString(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	s := scalarString(raw)
	if s == "" {
		return nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
