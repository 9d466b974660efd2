package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// A node on the fault-injection file system behaves exactly as one on the
// plain disk while no fault fires: the same scenario (topics, produce with
// and without an idempotent producer, a duplicate, offset commits, a
// restart) gives the same transcript of answers, offsets, high watermarks
// and partition Raft indices.
func TestFaultFSNodeBehavesLikeAPlainOne(t *testing.T) {
	transcript := func(t *testing.T, faultFS bool) string {
		tc := newTestCluster(t, 1, func(c *cluster.Config) { c.FaultFS = faultFS })
		var out []string
		say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
		n := tc.start(1)
		tc.waitReady(10 * time.Second)
		say("status fault_fs=%v", n.Status().FaultFS)
		tc.createTopic(1, "a", 2)
		tc.createTopic(1, "b", 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pid, epoch, err := n.InitProducerID(ctx)
		say("producer id %d epoch %d err %v", pid, epoch, err)
		tps := []cluster.TopicPartition{{Topic: "a"}, {Topic: "a", Partition: 1}, {Topic: "b"}}
		for i := range 30 {
			for j, tp := range tps {
				v := int64(i*10 + j)
				b := makeBatch(v, -1, 0, 0)
				if j == 2 {
					b = makeBatch(v, pid, epoch, int32(i))
				}
				off, err := tc.produce(tp, b, 5*time.Second)
				say("produce %s/%d %d -> %d %v", tp.Topic, tp.Partition, v, off, err)
			}
		}
		_, err = n.Produce(ctx, tps[2], makeBatch(290, pid, epoch, 29), -1)
		say("duplicate: %v", errors.Is(err, cluster.ErrDuplicateSequence))
		err = n.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tps[0]: {Offset: 7, Metadata: "m"}, tps[2]: {Offset: 3}})
		say("commit %v", err)
		report := func(n *cluster.Node, when string) {
			for _, tp := range tps {
				got, hw, err := readAll(ctx, n, tp)
				keys := make([]int64, 0, len(got))
				for off := range got {
					keys = append(keys, off)
				}
				slices.Sort(keys)
				var recs []string
				for _, off := range keys {
					recs = append(recs, fmt.Sprintf("%d:%d", off, got[off]))
				}
				say("%s read %s/%d hw %d err %v: %s", when, tp.Topic, tp.Partition, hw, err, strings.Join(recs, " "))
			}
			offs, err := n.FetchOffsets(ctx, "g")
			say("%s offsets %v %v", when, offs, err)
			for _, g := range n.Status().RaftGroups {
				if g.ID != cluster.MetaGroupID {
					say("%s group %s role %s term %d commit %d applied %d", when, g.Name, g.Role, g.Term, g.Commit, g.Applied)
				}
			}
		}
		report(n, "before restart")
		tc.stop(1)
		n = tc.start(1)
		tc.waitReady(10 * time.Second)
		waitFor(t, 10*time.Second, "partition leaders after restart", func() bool {
			for _, tp := range tps {
				if tc.leaderOf(tp) == nil {
					return false
				}
			}
			return true
		})
		report(n, "after restart")
		return strings.Join(out, "\n")
	}
	plain, faulty := transcript(t, false), transcript(t, true)
	faulty = strings.Replace(faulty, "status fault_fs=true", "status fault_fs=false", 1)
	if plain != faulty {
		pl, fl := strings.Split(plain, "\n"), strings.Split(faulty, "\n")
		for i := range min(len(pl), len(fl)) {
			if pl[i] != fl[i] {
				t.Fatalf("transcripts differ at line %d:\nplain disk: %s\nfault fs:   %s", i, pl[i], fl[i])
			}
		}
		t.Fatalf("transcripts differ in length: %d and %d lines", len(pl), len(fl))
	}
	if !strings.Contains(plain, "duplicate: true") || strings.Count(plain, "<nil>") < 90 {
		t.Fatalf("the scenario did not run as meant:\n%s", plain)
	}
}
