package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestStuckReadReason(t *testing.T) {
	tick := 50 * time.Millisecond
	cases := []struct {
		name string
		s    stuckRead
		want string
	}{
		{"no leader", stuckRead{stage: readQueued, self: 3, tick: tick, sinceTick: tick}, "no leader known"},
		{"queued with a leader", stuckRead{stage: readQueued, lead: 1, self: 3, tick: tick}, "queued behind a round"},
		{"follower round unanswered", stuckRead{stage: readSent, lead: 1, self: 3, roundAge: 7, tick: tick}, "unanswered for 7 ticks by leader 1"},
		{"leader round unanswered", stuckRead{stage: readSent, lead: 3, self: 3, roundAge: 4, tick: tick}, "no heartbeat quorum"},
		{"not applied", stuckRead{stage: readAnswered, index: 9, applied: 4, lead: 1, self: 3, tick: tick}, "read index 9 answered, applied only 4"},
		{"group not ticking", stuckRead{stage: readSent, lead: 1, self: 3, tick: tick, sinceTick: 2 * time.Second}, "has not ticked for 2s"},
		{"no tick yet recorded", stuckRead{stage: readAnswered, index: 2, applied: 1}, "read index 2 answered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.s.reason(); !strings.Contains(got, c.want) {
				t.Fatalf("reason() = %q, want it to contain %q", got, c.want)
			}
		})
	}
}
