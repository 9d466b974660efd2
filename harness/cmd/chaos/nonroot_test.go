package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/docker"
)

// nonRootEnv gates TestNonRootRun: a run with every fault family takes
// minutes of wall time (deploy, a 50 s workload, recovery, drain, the
// replicas read, checks: 3.4 min in a run measured here), more than the
// ~60 s a test may add to `make test`, so the nightly workflow runs it
// (job nonroot) and `make test` does not.
const nonRootEnv = "CHRONIK_NONROOT_TEST"

// nonRootFamilies is every fault family of the nightly "all" row.
const nonRootFamilies = "kill,pause,partition,loss,delay,client,power-loss,crash,corrupt,member"

// TestNonRootRun runs `chaos run` as a user who is not root but is in the
// docker group, as on a developer's machine or a CI runner without sudo:
// with --fault-path auto it must pick the fault agents (no
// /proc/<pid>/ns/net from the host) and still reach a valid verdict with
// every fault family. The test runs as root to create the user (a system
// user without a home, in the docker group) and removes it afterwards.
func TestNonRootRun(t *testing.T) {
	if os.Getenv(nonRootEnv) != "1" {
		t.Skipf("set %s=1 to run chaos as a non-root docker-group user (the nightly workflow does)", nonRootEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a user: run it as root (sudo)")
	}
	for _, tool := range []string{"useradd", "userdel", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("need %s: %v", tool, err)
		}
	}
	root, err := docker.FindModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("chaosnr%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", "docker", user).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", user, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", user).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", user, err, out)
		}
	})

	// The user's own world: binaries, store and home under one
	// directory it owns.
	dir, err := os.MkdirTemp("", "chaos-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s (store, binaries) for diagnosis", dir)
			return
		}
		os.RemoveAll(dir)
	})
	for _, b := range []struct{ out, pkg string }{{"chaos", "./harness/cmd/chaos"}, {"chronik-server", "./broker/cmd/chronik-server"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	if out, err := exec.Command("chown", "-R", user, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", "-u", user, "--",
		"env", "HOME="+dir, "PATH=/usr/bin:/bin",
		filepath.Join(dir, "chaos"), "run",
		"--broker-binary", filepath.Join(dir, "chronik-server"),
		"--nemesis", nonRootFamilies, "--nemesis-interval", "6s", "--time-limit", "50s",
		"--fault-path", "auto", "--client-access", "auto",
		"--seed", "9411", "--store", filepath.Join(dir, "store"))
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("chaos run as %s (wall %.1fs):\n%s", user, time.Since(start).Seconds(), out.String())
	if err != nil {
		t.Fatalf("chaos run as %s: %v", user, err)
	}
	text := out.String()
	if !strings.Contains(text, "faults via agent") {
		t.Error("the run did not use the fault agents")
	}
	if !strings.Contains(text, "verdict: VALID") {
		t.Error("no valid verdict")
	}
	// The families the agents serve must have acted; the schedule
	// draws the others at random, so they are only reported.
	var acted []string
	for _, fam := range strings.Split(nonRootFamilies, ",") {
		if strings.Contains(text, "nemesis "+fam) {
			acted = append(acted, fam)
		} else if fam == "partition" || fam == "loss" || fam == "client" {
			t.Errorf("network family %s never acted in the run", fam)
		}
	}
	t.Logf("families that acted: %s", strings.Join(acted, ","))
}
