package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storedRun lays out a run directory that needs no engine to be read:
// test.json with a seed, a history with one kill, results.json with the
// given verdict.
func storedRun(t *testing.T, valid bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store", "chronik-queue-kill", "20261201T120000")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"test.json": `{"name":"chronik-queue-kill","seed":7,"nodes":3,"workload":"queue","time_limit":"20s","nemesis":["kill"]}`,
		"history.jsonl": `{"index":0,"time":1000000000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n1"]}}
{"index":1,"time":1100000000,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n1"]}}
`,
		"results.json": `{"valid":true,"checkers":{"kafka":{"valid":true,"errors":{}}}}`,
	}
	if !valid {
		files["results.json"] = `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"lost-write":{"count":1,"fatal_count":1}}}}}`
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReplayShrinkUsage covers the exits of replay and shrink that come
// before any container: usage errors (2), a run that cannot be replayed,
// and a shrink of a run that did not fail.
func TestReplayShrinkUsage(t *testing.T) {
	valid, failing := storedRun(t, true), storedRun(t, false)
	cases := []struct {
		name       string
		main       func(context.Context, []string, io.Writer, io.Writer) int
		args       []string
		wantStderr string
	}{
		{"replay without a run", replayMain, nil, "usage: chaos replay"},
		{"replay of no run", replayMain, []string{t.TempDir()}, "configuration"},
		{"replay with zero tries", replayMain, []string{failing, "--tries", "0"}, "--tries"},
		{"replay with two runs", replayMain, []string{failing, valid}, "usage: chaos replay"},
		{"shrink without a run", shrinkMain, nil, "usage: chaos shrink"},
		{"shrink of a valid run", shrinkMain, []string{valid, "--budget", "1m"}, "not a failing run"},
		{"shrink needing more than its tries", shrinkMain, []string{failing, "--tries", "2", "--need", "3"}, "--need"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if got := tc.main(context.Background(), tc.args, &stdout, &stderr); got != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", got, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
