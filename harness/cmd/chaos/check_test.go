package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckExitCodes runs `chaos check` on the checkers' testdata and on
// bad input, and checks exit codes, output and written files.
func TestCheckExitCodes(t *testing.T) {
	td := filepath.Join("..", "..", "..", "checkers", "testdata")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"index\":0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A run directory with the copies every node held: n2's differs.
	run := t.TempDir()
	hist := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t/0",10]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t/0",[0,10]]]}
{"index":2,"time":3,"process":0,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":4,"process":0,"type":"ok","f":"poll","value":[["poll",{"t/0":[[0,10]]}]]}
`
	copies := `{"node":"n1","key":"t/0","records":[[0,10]],"hw":1,"first_hw":1}
{"node":"n2","key":"t/0","records":[[0,11]],"hw":1,"first_hw":1}
{"node":"n3","key":"t/0","records":[[0,10]],"hw":1,"first_hw":1}
`
	if err := os.WriteFile(filepath.Join(run, "history.jsonl"), []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "replicas.jsonl"), []byte(copies), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		files  []string
	}{
		{"valid", []string{filepath.Join(td, "lost-write-ok.jsonl")}, exitValid, "VALID", "", []string{"results.json"}},
		{"invalid", []string{filepath.Join(td, "lost-write.jsonl")}, exitInvalid, "lost-write=1", "", []string{"results.json"}},
		{"nonlinearizable writes visualization", []string{filepath.Join(td, "nonlinearizable.jsonl")}, exitInvalid, "nonlinearizable=1", "", []string{"results.json", "linearizability.html"}},
		{"flags after path", []string{filepath.Join(td, "unseen.jsonl"), "--allow-unseen"}, exitValid, "unseen=1", "", nil},
		{"out of time is unknown", []string{"--time-limit", "1ns", filepath.Join(td, "lost-write-ok.jsonl")}, exitUnknown, "UNKNOWN", "", []string{"results.json"}},
		{"replicas beside the history are compared", []string{filepath.Join(run, "history.jsonl")}, exitInvalid, "replica-divergence=1 replica-lost-write=1", "", []string{"results.json"}},
		{"no path", nil, exitUsage, "", "want exactly one history", nil},
		{"two paths", []string{"a", "b"}, exitUsage, "", "want exactly one history", nil},
		{"bad flag", []string{"--nope", "x"}, exitUsage, "", "flag provided but not defined", nil},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.jsonl")}, exitUsage, "", "open history", nil},
		{"malformed history", []string{bad}, exitUsage, "", "line 1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"--out", out}, tt.args...)
			var so, se bytes.Buffer
			code := checkMain(context.Background(), args, &so, &se)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, so.String(), se.String())
			}
			if !strings.Contains(so.String(), tt.stdout) || !strings.Contains(se.String(), tt.stderr) {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", so.String(), tt.stdout, se.String(), tt.stderr)
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
		})
	}
}
