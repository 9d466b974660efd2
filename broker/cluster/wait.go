package cluster

import (
	"context"
	"time"
)

// withDefaultTimeout bounds a request that carries no deadline of its own
// by DefaultProposalTimeout.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultProposalTimeout)
}

// waitUntil returns once done holds, ctx ends or limit passes, checking
// done again whenever the channel that next returns fires. next is called
// BEFORE each check, so a signal between the check and the wait is not
// lost (partitionSM.hwChanged hands out a channel closed at the next apply).
func waitUntil[T any](ctx context.Context, limit time.Duration, next func() <-chan T, done func() bool) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		ch := next()
		if done() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-ch:
		}
	}
}
