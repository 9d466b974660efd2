package harness

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-chaos/chronik/checkers/replicas"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// fakeNodes maps node names to broker addresses with a state each.
type fakeNodes struct {
	addrs  map[string]string
	states map[string]nemesis.NodeState
	names  []string
}

func (f *fakeNodes) Nodes() []string           { return f.names }
func (f *fakeNodes) KafkaAddr(n string) string { return f.addrs[n] }
func (f *fakeNodes) KafkaAddrs() []string      { return []string{f.addrs[f.names[0]]} }
func (f *fakeNodes) State(_ context.Context, n string) (nemesis.NodeState, error) {
	return f.states[n], nil
}

// ReadReplicas pages through long logs, reads each node on its own
// connection, names a node that is down, and the copies check as the
// broker holds them.
func TestReadReplicas(t *testing.T) {
	old := replicaPageBytes
	replicaPageBytes = 512 // a few records per Fetch: every log takes many pages
	defer func() { replicaPageBytes = old }()

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 300
	acked := map[string][]replicas.Ack{}
	for i := range n {
		r := &kgo.Record{Topic: "t0", Partition: int32(i % 2), Value: []byte(strconv.Itoa(1000 + i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("t0/%d", r.Partition)
		acked[k] = append(acked[k], replicas.Ack{Offset: r.Offset, Value: int64(1000 + i)})
	}
	// Two names for the one broker (both copies are that broker's), and
	// a third node that is down.
	nodes := &fakeNodes{names: []string{"n1", "n2", "n3"},
		addrs:  map[string]string{"n1": c.ListenAddrs()[0], "n2": c.ListenAddrs()[0], "n3": "127.0.0.1:1"},
		states: map[string]nemesis.NodeState{"n1": nemesis.Running, "n2": nemesis.Running, "n3": nemesis.Exited}}
	copies, st := ReadReplicas(ctx, nodes, []Key{{Topic: "t0", Partition: 0}}, time.Now(), discard())
	if st.Keys != 2 || st.Copies != 4 || st.Unread != 1 || st.Records != 2*n {
		t.Fatalf("stats %+v, want 2 keys, 4 copies read, 1 node down, %d records", st, 2*n)
	}
	if st.Fetches < 4*10 {
		t.Fatalf("%d fetches: the logs were not paged", st.Fetches)
	}
	for _, cp := range copies {
		if cp.Node != "n3" && (cp.HW != n/2 || len(cp.Records) != n/2 || cp.InvokedAt <= 0 || cp.AnsweredAt < cp.InvokedAt) {
			t.Fatalf("copy %s %s: hw %d, %d records, times %d..%d", cp.Node, cp.Key, cp.HW, len(cp.Records), cp.InvokedAt, cp.AnsweredAt)
		}
	}
	res := replicas.Check(copies, acked, 0)
	if res.Valid != verdict.Unknown || len(res.Errors) != 0 || res.Acked != 2*2*n/2 {
		t.Fatalf("check: valid %v (want unknown: n3 is down), errors %v, acked checks %d", res.Valid, res.Errors, res.Acked)
	}
	// A key the workload used whose topic no node has (its creation
	// failed) is read as absent everywhere, which is no anomaly.
	nodes.names = nodes.names[:2]
	copies, _ = ReadReplicas(ctx, nodes, []Key{{Topic: "never-created", Partition: 0}}, time.Now(), discard())
	absent := 0
	for _, cp := range copies {
		if cp.Absent {
			absent++
		}
	}
	if absent != 2 {
		t.Fatalf("%d absent copies of the topic nobody created, want 2: %+v", absent, copies)
	}
	if res := replicas.Check(copies, acked, 0); res.Valid != verdict.True {
		t.Fatalf("check without the down node: %v %s %v", res.Valid, res.Error, res.Errors)
	}
}
