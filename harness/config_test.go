package harness

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRunFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c Config)
		wantErr bool
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, c Config) {
			if c.Nodes != 3 || c.TimeLimit.D() != 60*time.Second || c.Rate != 200 || c.Concurrency != 6 {
				t.Errorf("defaults = %+v", c)
			}
			if !reflect.DeepEqual(c.Nemesis, []string{"staggered-start", "kill", "client"}) || !c.Staggered() {
				t.Errorf("default nemesis = %v", c.Nemesis)
			}
			if c.Name != "chronik-queue-staggered-start+kill+client" {
				t.Errorf("name = %q", c.Name)
			}
			if c.LongStartGap.D() <= time.Minute {
				t.Errorf("long start gap %v, want over a minute", c.LongStartGap.D())
			}
		}},
		{name: "client modes and producers", args: []string{"--client-modes", "responses,loss", "--producers", "plain-no-retry", "--long-start-gap", "0s"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.ClientModes, []string{"responses", "loss"}) || !reflect.DeepEqual(c.Producers, []string{"plain-no-retry"}) || c.LongStartGap != 0 {
					t.Errorf("parsed modes %v producers %v long gap %v", c.ClientModes, c.Producers, c.LongStartGap)
				}
			}},
		{name: "unknown client mode", args: []string{"--client-modes", "sideways"}, wantErr: true},
		{name: "placement defaults to auto", args: nil, check: func(t *testing.T, c Config) {
			if c.FaultPath != "auto" || c.ClientAccess != "auto" {
				t.Errorf("fault path %q, client access %q, want auto and auto", c.FaultPath, c.ClientAccess)
			}
		}},
		{name: "placement flags", args: []string{"--fault-path", "agent", "--client-access", "published"}, check: func(t *testing.T, c Config) {
			if c.FaultPath != "agent" || c.ClientAccess != "published" {
				t.Errorf("fault path %q, client access %q", c.FaultPath, c.ClientAccess)
			}
		}},
		{name: "unknown fault path", args: []string{"--fault-path", "sideways"}, wantErr: true},
		{name: "unknown client access", args: []string{"--client-access", "tunnel"}, wantErr: true},
		{name: "unknown producer", args: []string{"--producers", "transactional"}, wantErr: true},
		{name: "all flags", args: []string{"--nodes", "5", "--time-limit", "2m", "--rate", "50", "--concurrency", "3",
			"--workload", "log", "--nemesis", "kill,partition", "--nemesis-interval", "5s", "--seed", "42",
			"--store", "/tmp/x", "--image", "img:1", "--test-count", "2", "--broker-args", "--unsafe-no-dedup --log-level debug"},
			check: func(t *testing.T, c Config) {
				if c.Nodes != 5 || c.TimeLimit.D() != 2*time.Minute || c.Seed != 42 || c.Workload != "log" || c.TestCount != 2 {
					t.Errorf("parsed = %+v", c)
				}
				if !reflect.DeepEqual(c.Faults(), []string{"kill", "partition"}) || c.Staggered() {
					t.Errorf("faults = %v", c.Faults())
				}
				if !reflect.DeepEqual(c.BrokerArgs, []string{"--unsafe-no-dedup", "--log-level", "debug"}) {
					t.Errorf("broker args = %q", c.BrokerArgs)
				}
			}},
		{name: "nemesis none", args: []string{"--nemesis", "none"}, check: func(t *testing.T, c Config) {
			if len(c.Nemesis) != 0 || c.Name != "chronik-queue-none" {
				t.Errorf("nemesis none = %v, %q", c.Nemesis, c.Name)
			}
		}},
		{name: "unknown nemesis", args: []string{"--nemesis", "meteor"}, wantErr: true},
		{name: "unknown target", args: []string{"--targets", "leader,bogus"}, wantErr: true},
		{name: "unknown grudge", args: []string{"--grudges", "bogus"}, wantErr: true},
		{name: "bad workload", args: []string{"--workload", "kv"}, wantErr: true},
		{name: "zero nodes", args: []string{"--nodes", "0"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"--frobnicate"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseRunFlags(tc.args, io.Discard)
			if tc.wantErr {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestConfigJSONContract(t *testing.T) {
	c := DefaultConfig()
	c.Seed = 7
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, TestFile)
	if err := writeJSON(path, c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := jsonUnmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "seed", "nodes", "nemesis", "workload", "time_limit", "broker_args", "command_line"} {
		if _, ok := m[k]; !ok {
			t.Errorf("test.json lacks %q: %s", k, b)
		}
	}
	if m["time_limit"] != "1m0s" {
		t.Errorf("time_limit = %v, want a Go duration string", m["time_limit"])
	}
}

func TestSubRandDeterministicAndIndependent(t *testing.T) {
	a, b := SubRand(1, "nemesis"), SubRand(1, "nemesis")
	c := SubRand(1, "client-0")
	d := SubRand(2, "nemesis")
	var sa, sb, sc, sd []uint64
	for range 4 {
		sa, sb, sc, sd = append(sa, a.Uint64()), append(sb, b.Uint64()), append(sc, c.Uint64()), append(sd, d.Uint64())
	}
	if !reflect.DeepEqual(sa, sb) {
		t.Error("same seed and name gave different streams")
	}
	if reflect.DeepEqual(sa, sc) || reflect.DeepEqual(sa, sd) {
		t.Error("different name or seed gave the same stream")
	}
}

func TestStoreLayout(t *testing.T) {
	store := t.TempDir()
	at := time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	d1, err := newRunDir(store, "test", at)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := newRunDir(store, "test", at)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(d1) != "20261127T110000" || filepath.Base(d2) != "20261127T110000-2" {
		t.Errorf("run dirs = %s, %s", d1, d2)
	}
	for _, d := range []string{d1, d2} {
		if err := pointLatest(store, d); err != nil {
			t.Fatal(err)
		}
		got, err := os.Readlink(filepath.Join(store, LatestLink))
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := filepath.Rel(store, d); got != want {
			t.Errorf("latest -> %s, want %s", got, want)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// The snapshot thresholds go to every node before --broker-args, which
// may override them; coverage reads the values the nodes ran with.
func TestSnapshotThresholdArgs(t *testing.T) {
	tests := []struct {
		name           string
		flags          []string
		wantArgs       string
		entries, catch uint64
	}{
		{name: "defaults", wantArgs: "--snapshot-entries 32 --snapshot-catchup-entries 8", entries: 32, catch: 8},
		{name: "broker defaults", flags: []string{"--snapshot-entries", "0", "--snapshot-catchup-entries", "0"}, wantArgs: "", entries: 0, catch: 0},
		{name: "overridden by broker args", flags: []string{"--broker-args", "--snapshot-entries=10000 --unsafe-no-dedup"},
			wantArgs: "--snapshot-entries 32 --snapshot-catchup-entries 8 --snapshot-entries=10000 --unsafe-no-dedup", entries: 10000, catch: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseRunFlags(tt.flags, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cfg.NodeBrokerArgs(), " "); got != tt.wantArgs {
				t.Fatalf("node args %q, want %q", got, tt.wantArgs)
			}
			if e, c := cfg.snapshotThresholds(); e != tt.entries || c != tt.catch {
				t.Fatalf("thresholds %d/%d, want %d/%d", e, c, tt.entries, tt.catch)
			}
		})
	}
}
