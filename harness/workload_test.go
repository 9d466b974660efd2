package harness

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestWorkloadsAgainstFakeBroker runs each workload for a moment against an
// in-process kfake cluster, drains, and checks the recorded history: it
// must be well formed (the checkers' validating reader accepts it), cover
// every operation kind of the workload, and be valid (kfake is a correct
// broker).
func TestWorkloadsAgainstFakeBroker(t *testing.T) {
	cases := []struct {
		kind   string
		wantFs []string
		perKey int // writes before a key rotates
	}{
		{WorkloadQueue, []string{history.FSend, history.FPoll, history.FAssign, history.FSubscribe, history.FCommit, history.FOffsets}, 50},
		{WorkloadLog, []string{history.FSend, history.FRead}, 50},
		// kfake is franz-go's own transactional broker: the txn workload's
		// commits, aborts and abandoned transactions against it must check
		// valid, with the final reads in read_committed.
		// Fewer operations per second (each is a transaction), so keys
		// rotate sooner: the sessions must follow the new topics.
		{WorkloadTxn, []string{history.FTxn, history.FSubscribe}, 15},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(3))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			log := discard()
			admin, acl, err := newAdmin(c.ListenAddrs(), 5*time.Second, log)
			if err != nil {
				t.Fatal(err)
			}
			defer acl.Close()
			ks := NewKeyspace(admin, 3, 2, 3, tc.perKey, log)
			ctx := context.Background()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := ks.Setup(sctx); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			base := time.Now()
			w := history.NewWriter(&buf, base)
			rec := NewRecorder(w, base)
			late := &LateStats{}
			cfg := WorkloadConfig{Kind: tc.kind, Seeds: c.ListenAddrs(), Rate: 300, Concurrency: 4, Seed: 1,
				OpTimeout: 5 * time.Second, Keys: ks, Log: log, Late: late}
			rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
			defer rcancel()
			if err := RunClients(rctx, cfg, rec); err != nil {
				t.Fatal(err)
			}
			dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
			defer dcancel()
			st, err := Drain(dctx, cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if acked := len(ks.AckedOffsets()); acked == 0 || st.CaughtUp != acked {
				t.Errorf("drain caught up %d of %d acknowledged keys", st.CaughtUp, acked)
			}
			if len(ks.Used()) <= 3 {
				t.Errorf("keys never rotated: used %v", ks.Used())
			}
			seen := map[string]int{}
			// Every ok completion that asked a broker names the node that
			// answered; reads and polls are served by several nodes.
			nodes := map[string]map[string]bool{}
			for _, op := range decodeOps(t, buf.Bytes()) {
				if op.Type != history.Ok {
					continue
				}
				seen[op.F]++
				switch op.F {
				case history.FSend, history.FRead, history.FCommit, history.FOffsets:
					if op.Node == "" && !(op.F == history.FCommit && op.Process.ID >= asyncProcess && string(op.Value) == "{}") {
						t.Errorf("ok %s without a node: %+v", op.F, op)
					}
				}
				if nodes[op.F] == nil {
					nodes[op.F] = map[string]bool{}
				}
				if op.Node != "" {
					nodes[op.F][op.Node] = true
				}
			}
			if tc.kind == WorkloadLog && len(nodes[history.FRead]) < 2 {
				t.Errorf("reads were answered by %v only: no follower reads", nodes[history.FRead])
			}
			for _, f := range tc.wantFs {
				if seen[f] == 0 {
					t.Errorf("no ok %s in the history (saw %v)", f, seen)
				}
			}
			res, err := checkers.CheckReader(ctx, bytes.NewReader(buf.Bytes()), checkers.Options{TimeLimit: time.Minute})
			if err != nil {
				t.Fatalf("history rejected: %v", err)
			}
			if res.Valid != verdict.True {
				t.Errorf("history of a correct broker judged %v: %v", res.Valid, res.Counts())
			}
			ok, fail, info := rec.Counts()
			t.Logf("%s: ok %d fail %d info %d, drain %+v, keys %d, late batches delivered %d taken %d", tc.kind, ok, fail, info, st, len(ks.Used()),
				late.Delivered.Load(), late.Taken.Load())
		})
	}
}
