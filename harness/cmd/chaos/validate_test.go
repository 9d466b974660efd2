package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/harness"
	"github.com/chronik-chaos/chronik/reports"
)

// TestValidateShortCatchesEveryBug is the shortened `make validate` (it
// needs a Docker engine, as make test does): one run of every
// seeded bug with the nemeses that expose it, and one run of the correct
// broker with every fault family. Each bug must be caught (verdict
// invalid) and the correct broker must pass; the table must land in the
// store's validation.json. A row marked probabilistic (forget-hardstate,
// exposed only when a restart lands between a vote and the new leader's
// first entry) is logged when missed, not failed on.
func TestValidateShortCatchesEveryBug(t *testing.T) {
	store := t.TempDir()
	var stdout, stderr strings.Builder
	code := validateMain(context.Background(), []string{"--short", "--store", store}, &stdout, &stderr)
	v, err := reports.ReadValidation(filepath.Join(store, reports.ValidationFile))
	if err != nil {
		t.Fatalf("exit %d, no validation.json: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	bugs, missedProbabilistic := 0, 0
	for _, r := range v.Rows {
		switch {
		case r.Runs == 0:
			t.Errorf("row %q %v has no completed run", r.Bug, r.Nemeses)
		case r.Control && r.Caught > 0:
			t.Errorf("correct broker under %v: %d false alarm(s) in %d runs (anomalies %v)", r.Nemeses, r.Caught, r.Runs, r.Anomalies)
		case !r.Control && r.Caught < r.Runs && strings.Contains(r.Note, harness.ProbabilisticNote):
			// A bug exposed only when a restart lands in a narrow window
			// (forget-hardstate): reported, not failed on; README gives
			// its measured catch rate.
			t.Logf("%s under %v caught in %d of %d runs (probabilistic row)", r.Bug, r.Nemeses, r.Caught, r.Runs)
			missedProbabilistic++
		case !r.Control && r.Caught < r.Runs:
			t.Errorf("%s under %v caught in %d of %d runs", r.Bug, r.Nemeses, r.Caught, r.Runs)
		}
		if !r.Control {
			bugs++
		}
	}
	want := 0
	for _, r := range harness.Catalogue(true, 1) {
		if !r.Control {
			want++
		}
	}
	if bugs != want {
		t.Errorf("%d bug rows, want the %d of the catalogue", bugs, want)
	}
	if want := map[bool]int{true: exitInvalid, false: exitValid}[missedProbabilistic > 0]; code != want {
		t.Errorf("exit %d, want %d", code, want)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	} else if i := strings.Index(stdout.String(), "detection power"); i >= 0 {
		// The measured table, for the record (go test -v).
		t.Logf("%s", stdout.String()[i:])
	}
}

func TestValidateUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown row", args: []string{"--rows", "meteor"}, want: "matches no row"},
		{name: "too long", args: []string{"--time-limit", "5m"}, want: "--time-limit"},
		{name: "no seeds", args: []string{"--seeds", "0"}, want: "--seeds"},
		{name: "stray argument", args: []string{"now"}, want: "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			args := append(tc.args, "--store", t.TempDir())
			if got := validateMain(context.Background(), args, &stdout, &stderr); got != exitUsage {
				t.Errorf("exit %d, want %d; stderr %s", got, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}
