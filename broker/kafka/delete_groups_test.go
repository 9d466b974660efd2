package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeleteGroupsAndOffsets: what the Java AdminClient's
// deleteConsumerGroups / deleteConsumerGroupOffsets (and kadm) do, against
// an empty group, an active consumer group, and a group nobody knows.
func TestDeleteGroupsAndOffsets(t *testing.T) {
	srv, fb, addr := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, "dg"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, "other"); err != nil {
		t.Fatal(err)
	}
	commit := func(group string, offs map[string]map[int32]int64) {
		t.Helper()
		var o kadm.Offsets
		for topic, ps := range offs {
			for p, at := range ps {
				o.AddOffset(topic, p, at, -1)
			}
		}
		if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Fatalf("commit %s: %v", group, err)
		}
	}
	committed := func(group string) map[string]map[int32]int64 {
		t.Helper()
		got, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("fetch offsets of %s: %v", group, err)
		}
		out := map[string]map[int32]int64{}
		got.Each(func(o kadm.OffsetResponse) {
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.At
		})
		return out
	}

	// An empty group: offsets deleted one partition at a time, then the
	// group itself.
	commit("idle", map[string]map[int32]int64{"dg": {0: 5, 1: 6}, "other": {0: 1}})
	del, err := adm.DeleteOffsets(ctx, "idle", kadm.TopicsSet{"dg": {0: {}}, "missing": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := del["dg"][0]; e != nil {
		t.Errorf("delete dg/0 of an empty group: %v", e)
	}
	if e := del["missing"][0]; e != kerr.UnknownTopicOrPartition {
		t.Errorf("delete of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", e)
	}
	if got := committed("idle"); len(got["dg"]) != 1 || got["dg"][1] != 6 || got["other"][0] != 1 {
		t.Errorf("offsets after deleting dg/0: %v", got)
	}
	deleteGroup := func(group string) error {
		t.Helper()
		rs, err := adm.DeleteGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		return rs[group].Err
	}
	if err := deleteGroup("idle"); err != nil {
		t.Fatalf("delete empty group: %v", err)
	}
	if got := committed("idle"); len(got) != 0 {
		t.Errorf("offsets of a deleted group: %v", got)
	}
	if err := deleteGroup("idle"); err != kerr.GroupIDNotFound {
		t.Errorf("deleting a deleted group: %v, want GROUP_ID_NOT_FOUND", err)
	}

	// An active consumer group subscribed to dg: the group cannot be
	// deleted, nor its dg offsets; offsets of other topics can.
	commit("busy", map[string]map[int32]int64{"other": {0: 3}}) // before it has members
	cl := newClient(t, addr, kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("dg"),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
	stable := false
	for deadline := time.Now().Add(20 * time.Second); !stable && time.Now().Before(deadline); {
		pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		cl.PollFetches(pctx)
		pcancel()
		d, err := adm.DescribeGroups(ctx, "busy")
		stable = err == nil && d["busy"].State == "Stable"
	}
	if !stable {
		t.Fatal("group busy never became Stable")
	}
	if err := deleteGroup("busy"); err != kerr.NonEmptyGroup {
		t.Errorf("deleting an active group: %v, want NON_EMPTY_GROUP", err)
	}
	del, err = adm.DeleteOffsets(ctx, "busy", kadm.TopicsSet{"dg": {0: {}}, "other": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := del["dg"][0]; e != kerr.GroupSubscribedToTopic {
		t.Errorf("delete of a subscribed topic's offset: %v, want GROUP_SUBSCRIBED_TO_TOPIC", e)
	}
	if e := del["other"][0]; e != nil {
		t.Errorf("delete of an unsubscribed topic's offset: %v", e)
	}
	if got := committed("busy"); got["other"] != nil {
		t.Errorf("offsets of busy after deleting other/0: %v", got)
	}

	// Only the coordinator answers.
	fb.mu.Lock()
	fb.coord = 2
	fb.mu.Unlock()
	dreq := kmsg.NewPtrDeleteGroupsRequest()
	dreq.Groups = []string{"busy"}
	dresp, err := callHandler(ctx, srv, dreq)
	if err != nil {
		t.Fatal(err)
	}
	if g := dresp.(*kmsg.DeleteGroupsResponse).Groups; len(g) != 1 || g[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Errorf("DeleteGroups on a non-coordinator: %+v", g)
	}
	oreq := kmsg.NewPtrOffsetDeleteRequest()
	oreq.Group = "busy"
	oresp, err := callHandler(ctx, srv, oreq)
	if err != nil {
		t.Fatal(err)
	}
	if code := oresp.(*kmsg.OffsetDeleteResponse).ErrorCode; code != kerr.NotCoordinator.Code {
		t.Errorf("OffsetDelete on a non-coordinator: code %d", code)
	}
}
