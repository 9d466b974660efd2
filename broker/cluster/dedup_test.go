package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Idempotent-producer state is replicated: after the leader dies, a retry
// of an acknowledged batch is answered as a duplicate with its original
// offset, a gap is out of order, and an older epoch is fenced.
func TestIdempotentDedupSurvivesFailover(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	const pid = 42
	offsets := map[int32]int64{}
	for seq := int32(0); seq < 10; seq++ {
		off, err := tc.produce(tp, makeBatch(int64(seq), pid, 1, seq), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		offsets[seq] = off
	}
	old := tc.leaderOf(tp)
	tc.stop(uint64(old.NodeID()))
	var l *cluster.Node
	waitFor(t, 10*time.Second, "new leader", func() bool { l = tc.leaderOf(tp); return l != nil })
	produce := func(b cluster.Batch) (cluster.ProduceResult, error) {
		var res cluster.ProduceResult
		var err error
		waitFor(t, 10*time.Second, "a definite answer", func() bool {
			l := tc.leaderOf(tp)
			if l == nil {
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			res, err = l.Produce(ctx, tp, b, -1)
			return !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrTimeout) && !errors.Is(err, cluster.ErrNotReady)
		})
		return res, err
	}
	tests := []struct {
		name    string
		batch   cluster.Batch
		wantErr error
		wantOff int64
	}{
		{"retry of last batch", makeBatch(9, pid, 1, 9), cluster.ErrDuplicateSequence, offsets[9]},
		{"retry of an older batch in the window", makeBatch(7, pid, 1, 7), cluster.ErrDuplicateSequence, offsets[7]},
		{"gap", makeBatch(11, pid, 1, 11), cluster.ErrOutOfOrderSequence, -1},
		{"fenced epoch", makeBatch(10, pid, 0, 10), cluster.ErrInvalidProducerEpoch, -1},
		{"next in order", makeBatch(10, pid, 1, 10), nil, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := produce(tt.batch)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if tt.wantOff >= 0 && res.BaseOffset != tt.wantOff {
				t.Fatalf("offset %d, want %d", res.BaseOffset, tt.wantOff)
			}
		})
	}
}
