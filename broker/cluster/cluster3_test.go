package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Nodes start one by one with gaps longer than the registration patience
// of the Chronik server this broker re-creates (30 attempts) (scaled: the test tick is 10 ms); the early nodes
// keep retrying and every node ends up registered and ready.
func TestStaggeredStartAndTopicReplication(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.start(1)
	time.Sleep(1500 * time.Millisecond)
	if tc.node(1).Ready() {
		t.Fatal("node 1 ready without quorum")
	}
	tc.start(2)
	time.Sleep(1500 * time.Millisecond)
	tc.start(3)
	tc.waitReady(10 * time.Second)
	// Node 1 waited through more failed registrations than the seeded
	// registration bug tolerates (3 in TestUnsafeFlagsChangeBehaviour)
	// and is still alive and ready.
	if got := counterValue(t, tc.node(1), "chronik_registration_attempts_total"); got <= 3 {
		t.Fatalf("node 1 registered after %v attempts; the gaps were too short to prove patience", got)
	}
	select {
	case err := <-tc.node(1).Fatal():
		t.Fatalf("node 1 gave up: %v", err)
	default:
	}
	// One CreateTopics with several topics: every node creates every
	// partition of every topic (the seed created only the first topic's).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := tc.node(2).CreateTopics(ctx, []cluster.TopicSpec{{Name: "a", Partitions: 2}, {Name: "b", Partitions: 3}, {Name: "a"}}, false)
	if errs[0] != nil || errs[1] != nil || errs[2] == nil {
		t.Fatalf("create topics: %v", errs)
	}
	for _, id := range tc.ids {
		n := tc.node(id)
		waitFor(t, 5*time.Second, fmt.Sprintf("node %d has all groups", id), func() bool {
			ta, okA := n.Topic("a")
			tb, okB := n.Topic("b")
			_, okD := n.Topic(cluster.DefaultTopic)
			return okA && okB && okD && len(ta.Partitions) == 2 && len(tb.Partitions) == 3 && len(n.Status().RaftGroups) == 1+2+3+3
		})
		if got := len(n.Brokers()); got != 3 {
			t.Fatalf("node %d sees %d brokers", id, got)
		}
	}
}

func TestProduceLeaderReadFollower(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 3)
	for p := int32(0); p < 3; p++ {
		tp := cluster.TopicPartition{Topic: "t", Partition: p}
		// Idempotent, so a retry after an unknown outcome (a leadership
		// transfer mid-request) is not appended twice.
		for i := range 10 {
			if _, err := tc.produce(tp, makeBatch(int64(i), int64(50+p), 0, int32(i)), 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		l := tc.leaderOf(tp)
		for _, id := range tc.ids {
			n := tc.node(id)
			if n == l {
				continue
			}
			got, hw, err := readAll(context.Background(), n, tp)
			if err != nil || hw != 10 || len(got) != 10 {
				t.Fatalf("follower %d read %s: err %v hw %d n %d", id, tp.Topic, err, hw, len(got))
			}
		}
	}
	// Leadership spread: partitions prefer different nodes.
	waitFor(t, 10*time.Second, "leaders spread", func() bool {
		seen := map[*cluster.Node]bool{}
		for p := int32(0); p < 3; p++ {
			if l := tc.leaderOf(cluster.TopicPartition{Topic: "t", Partition: p}); l != nil {
				seen[l] = true
			}
		}
		return len(seen) == 3
	})
}
