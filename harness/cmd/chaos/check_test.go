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
