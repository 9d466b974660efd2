package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    string
		wantErr string // substring; "" = success
		check   func(t *testing.T, o *options)
	}{
		{name: "standalone minimal", args: "--data-dir /d standalone",
			check: func(t *testing.T, o *options) {
				if o.mode != "standalone" || o.kafkaPort != 9092 || o.adminPort != 9644 || !o.autoCreateTopics || o.nodeID != 1 {
					t.Fatalf("defaults wrong: %+v", o)
				}
			}},
		{name: "raft-cluster full", args: `--kafka-port 9093 --advertised-addr n1 --node-id 1 --data-dir /d --admin-port 9645 --log-level debug raft-cluster --raft-addr 0.0.0.0:9192 --peers 2@host2:9292,3@host3:9392`,
			check: func(t *testing.T, o *options) {
				if o.mode != "raft-cluster" || len(o.peers) != 2 || o.peers[3] != "host3:9392" || o.raftAddr != "0.0.0.0:9192" || o.kafkaPort != 9093 {
					t.Fatalf("parsed wrong: %+v", o)
				}
			}},
		{name: "published listeners", args: "--advertised-addr 127.0.0.1 --advertised-port 40001 --advertised-admin-addr 10.77.0.11:9644 --data-dir /d standalone",
			check: func(t *testing.T, o *options) {
				if o.advertisedPort != 40001 || o.advertisedAdmin != "10.77.0.11:9644" || o.kafkaPort != 9092 {
					t.Fatalf("parsed wrong: %+v", o)
				}
			}},
		{name: "advertised port out of range", args: "--advertised-port 70000 --data-dir /d standalone", wantErr: "--advertised-port 70000"},
		{name: "raft-cluster without peers", args: "--data-dir /d raft-cluster --raft-addr 127.0.0.1:1"},
		{name: "join", args: "--data-dir /d --node-id 4 raft-cluster --join --peers 1@h1:9192,2@h2:9192",
			check: func(t *testing.T, o *options) {
				if !o.join || len(o.peers) != 2 {
					t.Fatalf("parsed wrong: %+v", o)
				}
			}},
		{name: "join without peers", args: "--data-dir /d --node-id 4 raft-cluster --join", wantErr: "--join needs --peers"},
		{name: "standalone with join", args: "--data-dir /d standalone --join", wantErr: "takes no --peers"},
		{name: "membership seeded bugs", args: "--data-dir /d --unsafe-promote-early --unsafe-direct-conf-change raft-cluster",
			check: func(t *testing.T, o *options) {
				if got := strings.Join(o.unsafeFlags(), " "); got != "--unsafe-direct-conf-change --unsafe-promote-early" {
					t.Fatalf("unsafe flags %q", got)
				}
			}},
		{name: "unsafe flags", args: "--data-dir /d --unsafe-ack-before-commit --unsafe-registration-attempts=30 --unsafe-forget-hardstate standalone",
			check: func(t *testing.T, o *options) {
				got := strings.Join(o.unsafeFlags(), " ")
				if got != "--unsafe-ack-before-commit --unsafe-forget-hardstate --unsafe-registration-attempts=30" {
					t.Fatalf("unsafe flags %q", got)
				}
			}},
		{name: "durability flags", args: "--data-dir /d --fault-fs --unsafe-no-fsync --unsafe-apply-before-save standalone",
			check: func(t *testing.T, o *options) {
				got := strings.Join(o.unsafeFlags(), " ")
				if !o.faultFS || got != "--unsafe-apply-before-save --unsafe-no-fsync" {
					t.Fatalf("fault fs %v, unsafe flags %q", o.faultFS, got)
				}
			}},
		{name: "transaction unsafe flags", args: "--data-dir /d --unsafe-lso-is-hw --unsafe-commit-before-markers --unsafe-no-txn-verification standalone",
			check: func(t *testing.T, o *options) {
				got := strings.Join(o.unsafeFlags(), " ")
				if got != "--unsafe-commit-before-markers --unsafe-lso-is-hw --unsafe-no-txn-verification" {
					t.Fatalf("unsafe flags %q", got)
				}
				if u := o.unsafe; !u.LSOIsHW || !u.CommitBeforeMarkers || !u.NoTxnVerification {
					t.Fatalf("parsed %+v", u)
				}
			}},
		{name: "snapshot thresholds", args: "--data-dir /d --snapshot-entries 100 --snapshot-catchup-entries 40 --unsafe-snapshot-stale-state raft-cluster",
			check: func(t *testing.T, o *options) {
				if o.snapshotEntries != 100 || o.snapshotCatchUp != 40 {
					t.Fatalf("thresholds %d/%d", o.snapshotEntries, o.snapshotCatchUp)
				}
				if got := strings.Join(o.unsafeFlags(), " "); got != "--unsafe-snapshot-stale-state" {
					t.Fatalf("unsafe flags %q", got)
				}
			}},
		{name: "snapshot thresholds default", args: "--data-dir /d standalone",
			check: func(t *testing.T, o *options) {
				if o.snapshotEntries != 10000 || o.snapshotCatchUp != 0 {
					t.Fatalf("thresholds %d/%d, want the defaults 10000/0", o.snapshotEntries, o.snapshotCatchUp)
				}
			}},
		{name: "snapshot entries zero", args: "--data-dir /d --snapshot-entries 0 standalone", wantErr: "--snapshot-entries 0 outside"},
		{name: "missing subcommand", args: "--data-dir /d", wantErr: "missing subcommand"},
		{name: "unknown subcommand", args: "--data-dir /d cluster", wantErr: "unknown subcommand"},
		{name: "missing data dir", args: "standalone", wantErr: "--data-dir is required"},
		{name: "global flag after subcommand", args: "--data-dir /d standalone --kafka-port 1", wantErr: "global options must come before"},
		{name: "unknown flag", args: "--data-dir /d --bogus standalone", wantErr: "flag provided but not defined"},
		{name: "bad port", args: "--data-dir /d --kafka-port 70000 standalone", wantErr: "--kafka-port"},
		{name: "bad log level", args: "--data-dir /d --log-level loud standalone", wantErr: "--log-level"},
		{name: "node id zero", args: "--data-dir /d --node-id 0 standalone", wantErr: "--node-id"},
		{name: "standalone with peers", args: "--data-dir /d standalone --peers 2@h:1", wantErr: "use: chronik-server [global options] raft-cluster"},
		{name: "peers naming self", args: "--data-dir /d --node-id 2 raft-cluster --peers 2@h:1,3@h:2", wantErr: "names this node"},
		{name: "peers repeating id", args: "--data-dir /d raft-cluster --peers 2@h:1,2@h:2", wantErr: "repeats id 2"},
		{name: "peers malformed item", args: "--data-dir /d raft-cluster --peers 2@h:1,,3@h:2", wantErr: "want ID@HOST:PORT"},
		{name: "peers without id", args: "--data-dir /d raft-cluster --peers h:1", wantErr: "want ID@HOST:PORT"},
		{name: "peers bad id", args: "--data-dir /d raft-cluster --peers x@h:1", wantErr: "not an integer"},
		{name: "peers bad port", args: "--data-dir /d raft-cluster --peers 2@h:99999", wantErr: "outside 1..65535"},
		{name: "peers no port", args: "--data-dir /d raft-cluster --peers 2@h", wantErr: "not HOST:PORT"},
		{name: "bad raft addr", args: "--data-dir /d raft-cluster --raft-addr nowhere", wantErr: "--raft-addr"},
		{name: "stray argument", args: "--data-dir /d standalone extra", wantErr: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(strings.Fields(tc.args))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil {
					tc.check(t, o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"--help"}, exitOK, "Global options must come before the subcommand", ""},
		{"usage error", []string{"--data-dir", "/d", "standalone", "--peers", "2@h:1"}, exitUsage, "", "raft-cluster"},
		{"no args", nil, exitUsage, "", "missing subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb)
			if code != tc.wantCode || !strings.Contains(out.String(), tc.wantStdout) || !strings.Contains(errb.String(), tc.wantStderr) {
				t.Fatalf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
		})
	}
}
