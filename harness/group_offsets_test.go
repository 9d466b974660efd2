package harness

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A commit is fail only when the coordinator refused every partition before
// proposing, ok with exactly the partitions it committed, info otherwise.
func TestClassifyCommit(t *testing.T) {
	asked := map[string]int64{"t/0": 5, "t/1": 7}
	resp := func(c0, c1 int16) *kmsg.OffsetCommitResponse {
		return &kmsg.OffsetCommitResponse{Topics: []kmsg.OffsetCommitResponseTopic{{Topic: "t",
			Partitions: []kmsg.OffsetCommitResponseTopicPartition{{Partition: 0, ErrorCode: c0}, {Partition: 1, ErrorCode: c1}}}}}
	}
	cases := []struct {
		name string
		resp *kmsg.OffsetCommitResponse
		err  error
		want history.Type
		done map[string]int64
	}{
		{"all committed", resp(0, 0), nil, history.Ok, asked},
		{"one refused", resp(0, kerr.UnknownTopicOrPartition.Code), nil, history.Ok, map[string]int64{"t/0": 5}},
		{"all refused: old generation", resp(kerr.IllegalGeneration.Code, kerr.IllegalGeneration.Code), nil, history.Fail, nil},
		{"rebalance", resp(kerr.RebalanceInProgress.Code, kerr.RebalanceInProgress.Code), nil, history.Fail, nil},
		{"not coordinator may follow the proposal", resp(kerr.NotCoordinator.Code, kerr.NotCoordinator.Code), nil, history.Info, nil},
		{"timeout", resp(0, kerr.RequestTimedOut.Code), nil, history.Info, nil},
		{"request error", nil, errors.New("broken pipe"), history.Info, nil},
		{"no answer", nil, nil, history.Info, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, done, err := classifyCommit(asked, tc.resp, tc.err)
			if typ != tc.want || (typ == history.Ok && !reflect.DeepEqual(done, tc.done)) {
				t.Fatalf("got %s %v (%v), want %s %v", typ, done, err, tc.want, tc.done)
			}
			if typ != history.Ok && err == nil {
				t.Error("a failed or unknown commit without an error")
			}
		})
	}
}

// The read-back after a commit asks again after a failed read, until one
// succeeds or the tries are spent, and never after the run's end.
func TestUntilOk(t *testing.T) {
	cases := []struct {
		name      string
		fails     int // reads that fail before one succeeds
		cancelled bool
		want      int
	}{
		{"first read answers", 0, false, 1},
		{"coordinator moved twice", 2, false, 3},
		{"every try fails", 10, false, readBackTries},
		{"run over", 0, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			calls := 0
			got := untilOk(ctx, readBackTries, time.Millisecond, func(context.Context) bool {
				calls++
				return calls > tc.fails
			})
			if got != tc.want || calls != tc.want {
				t.Fatalf("untilOk returned %d after %d reads, want %d", got, calls, tc.want)
			}
		})
	}
}
