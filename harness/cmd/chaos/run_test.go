package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunExitCodesWithoutRunning covers the exits that happen before any
// container exists: no engine (4, with what to start, and no run directory
// left behind) and usage errors (2).
func TestRunExitCodesWithoutRunning(t *testing.T) {
	cases := []struct {
		name       string
		dockerHost string
		args       []string
		want       int
		wantStderr string
	}{
		{name: "engine unreachable", dockerHost: "unix:///nonexistent/docker.sock", args: []string{"--time-limit", "5s"}, want: exitInfra, wantStderr: "start dockerd"},
		{name: "unknown nemesis", args: []string{"--nemesis", "meteor"}, want: exitUsage, wantStderr: "unknown nemesis"},
		{name: "bad flag", args: []string{"--nodes", "many"}, want: exitUsage, wantStderr: "invalid value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dockerHost != "" {
				t.Setenv("DOCKER_HOST", tc.dockerHost)
			}
			store := t.TempDir()
			var stdout, stderr strings.Builder
			got := runMain(context.Background(), append(tc.args, "--store", store), &stdout, &stderr)
			if got != tc.want {
				t.Errorf("exit %d, want %d; stderr: %s", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
			if entries, _ := os.ReadDir(store); len(entries) != 0 {
				t.Errorf("store not empty after a run that never started: %v", entries)
			}
		})
	}
}

func TestWorseExitCode(t *testing.T) {
	cases := []struct{ a, b, want int }{
		{exitValid, exitInvalid, exitInvalid},
		{exitInfra, exitInvalid, exitInfra},
		{exitUnknown, exitValid, exitUnknown},
		{exitInvalid, exitUnknown, exitInvalid},
	}
	for _, tc := range cases {
		t.Run(filepath.Join(itoa(tc.a), itoa(tc.b)), func(t *testing.T) {
			if got := worse(tc.a, tc.b); got != tc.want {
				t.Errorf("worse(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
