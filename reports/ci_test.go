package reports

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot walks up from the package directory to the directory holding
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the package directory")
	return ""
}

func goBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no go command to run the actionlint tool (looked in PATH and %s)", p)
	}
	return p
}

const workflowPath = ".github/workflows/nightly.yml"

// TestNightlyWorkflowLint runs actionlint (a tool dependency in go.mod, so
// `go tool actionlint` needs nothing installed) over the nightly workflow
// and fails on any finding.
func TestNightlyWorkflowLint(t *testing.T) {
	root := repoRoot(t)
	goCmd := goBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// First make sure the tool itself runs; only that may skip the test.
	ver := exec.CommandContext(ctx, goCmd, "tool", "actionlint", "-version")
	ver.Dir = root
	if out, err := ver.CombinedOutput(); err != nil {
		t.Skipf("go tool actionlint cannot run here (module cache offline?): %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, goCmd, "tool", "actionlint", "-no-color", workflowPath)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		t.Fatalf("actionlint found problems in %s:\n%s", workflowPath, out.String())
	default:
		t.Fatalf("actionlint failed on %s: %v\n%s", workflowPath, err, out.String())
	}
}

// TestNightlyMatrixMatchesMakefile keeps `make nightly` running the same
// nemesis families as the CI matrix.
func TestNightlyMatrixMatchesMakefile(t *testing.T) {
	root := repoRoot(t)
	wf, err := os.ReadFile(filepath.Join(root, workflowPath))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var ci []string
	for _, m := range regexp.MustCompile(`(?m)^\s+nemesis:\s*(\S+)\s*$`).FindAllSubmatch(wf, -1) {
		ci = append(ci, string(m[1]))
	}
	loop := regexp.MustCompile(`for nemesis in ([^;]+);`).FindSubmatch(mk)
	if loop == nil {
		t.Fatal("Makefile nightly recipe has no `for nemesis in ...;` loop")
	}
	local := strings.Fields(string(loop[1]))
	if len(ci) == 0 || !slices.Equal(ci, local) {
		t.Errorf("nightly matrices differ:\n workflow: %v\n Makefile: %v", ci, local)
	}
	for _, want := range []string{"kill", "pause", "partition", "loss", "delay"} {
		if !slices.Contains(ci, want) {
			t.Errorf("workflow matrix lacks nemesis family %q", want)
		}
	}
}
