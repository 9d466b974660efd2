package cluster

// This file explains a linearizable read that gave up (read_only.go):
// the reader answers "not leader", which on a follower with a live leader
// hides why. One line says where the read stopped: no leader known (the
// round was never sent), the round unanswered, or the read index answered
// but not applied here; and how long ago the group last ticked, which
// tells a stuck group goroutine from a slow leader. Nothing here takes the
// group's mu: the goroutine that should have answered may be the one that
// is stuck.

import (
	"fmt"
	"time"
)

// Stages of a readWaiter (guarded by the group's rmu).
const (
	readQueued   = iota // waiting for a round to be sent
	readSent            // in a ReadIndex round, no answer yet
	readAnswered        // the round answered; waiting to apply w.index
)

// stuckReadEvery bounds the give-up lines of one group: a client that
// retries (the harness's replicas phase, a consumer) would log every
// election timeout or so.
const stuckReadEvery = 5 * time.Second

// stuckRead is what a reader that gave up knows of its group.
type stuckRead struct {
	stage     int
	index     uint64 // read index, once answered
	applied   uint64
	lead      uint64
	self      uint64
	roundAge  int // ticks since the waiter's round was sent (readSent)
	sinceTick time.Duration
	tick      time.Duration
}

// reason names where the read stopped, in words for the log line.
func (s stuckRead) reason() string {
	if s.tick > 0 && s.sinceTick > 3*s.tick+100*time.Millisecond {
		return fmt.Sprintf("the group has not ticked for %v: its goroutine is busy or stuck", s.sinceTick.Round(time.Millisecond))
	}
	switch s.stage {
	case readQueued:
		if s.lead == 0 {
			return "no leader known: no ReadIndex round was sent"
		}
		return fmt.Sprintf("queued behind a round in flight or not sent yet (leader %d)", s.lead)
	case readSent:
		if s.lead == s.self {
			return fmt.Sprintf("ReadIndex round unanswered for %d ticks: no heartbeat quorum, or no entry committed in this term yet", s.roundAge)
		}
		return fmt.Sprintf("ReadIndex round unanswered for %d ticks by leader %d", s.roundAge, s.lead)
	default:
		return fmt.Sprintf("read index %d answered, applied only %d here", s.index, s.applied)
	}
}

// reportStuckRead logs, at most once per stuckReadEvery for the group, why
// reader w gave up.
func (g *raftGroup) reportStuckRead(w *readWaiter) {
	now := time.Now()
	last := g.stuckLogged.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < stuckReadEvery {
		return
	}
	if !g.stuckLogged.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	g.rmu.Lock()
	s := stuckRead{stage: w.stage, index: w.index}
	if w.stage == readSent {
		s.roundAge = int(g.pubTicks.Load()) - w.sentAt
	}
	g.rmu.Unlock()
	s.applied, s.lead, s.self = g.pubApplied.Load(), g.pubLead.Load(), g.node.cfg.NodeID
	s.tick = g.node.cfg.TickInterval
	if t := g.lastTick.Load(); t != 0 {
		s.sinceTick = now.Sub(time.Unix(0, t))
	}
	g.log.Warn("linearizable read gave up", "why", s.reason(), "leader", s.lead,
		"term", g.pubTerm.Load(), "commit", g.pubCommit.Load(), "applied", s.applied)
}
