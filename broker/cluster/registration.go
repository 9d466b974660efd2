package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// registerLoop proposes RegisterBroker to __meta until it applies, with
// exponential backoff capped at 2 s. A node without quorum keeps trying
// forever (the Chronik server this broker re-creates gave up after 30
// attempts and exited, which a staggered start turns into a dead node)
// unless the seeded bug
// Unsafe.RegistrationAttempts is set.
func (n *Node) registerLoop(ctx context.Context) {
	self := BrokerInfo{ID: int32(n.cfg.NodeID), Host: n.cfg.AdvertisedHost, Port: n.cfg.KafkaPort, Rack: n.cfg.Rack}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		n.metrics.regs.Inc()
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if n.removedSelf.Load() {
			cancel()
			return
		}
		// The addresses a member reports for itself (membership.go).
		addrs := &Member{ID: n.cfg.NodeID, RaftAddr: n.advertisedRaftAddr(), AdminAddr: n.cfg.AdminAddr}
		_, err := n.proposeMeta(actx, metaCommand{Op: opRegister, Broker: &self, Member: addrs})
		cancel()
		if errors.Is(err, ErrRemoved) {
			n.markRemoved("registration refused: __meta records this node as removed")
			return
		}
		if err == nil {
			if b, ok := n.meta.broker(self.ID); ok && b == self {
				n.registered.Store(true)
				n.log.Info("registered broker in __meta", "attempt", attempt, "host", self.Host, "port", self.Port)
				return
			}
			err = errors.New("registration applied but not visible")
		}
		if ctx.Err() != nil {
			return
		}
		if max := n.cfg.Unsafe.RegistrationAttempts; max > 0 && attempt >= max {
			n.log.Error("unsafe: giving up registration", "attempts", attempt, "err", err)
			n.fail(fmt.Errorf("register broker %d: gave up after %d attempts: %w", self.ID, attempt, err))
			return
		}
		if n.cfg.Join || errors.Is(err, ErrNotMember) {
			// A joining node has no __meta leader until a member adds it.
			n.log.Warn("not a member yet: waiting to be added (POST /admin/members on any member)", "attempt", attempt, "retry_in", backoff, "err", err)
		} else {
			n.log.Warn("registration attempt failed; retrying (no quorum yet?)", "attempt", attempt, "retry_in", backoff, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// DefaultTopic is auto-created once __meta has a leader.
const DefaultTopic = "chronik-default"

// defaultTopicLoop creates chronik-default once __meta has a leader, from
// the __meta leader only (others would just get TOPIC_ALREADY_EXISTS).
func (n *Node) defaultTopicLoop(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if _, ok := n.meta.topic(DefaultTopic); ok {
			return
		}
		if n.metaRaft.isLeader() {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			errs := n.CreateTopics(actx, []TopicSpec{{Name: DefaultTopic}}, false)
			cancel()
			if errs[0] == nil || errors.Is(errs[0], ErrTopicExists) {
				return
			}
			n.log.Debug("create default topic", "err", errs[0])
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
