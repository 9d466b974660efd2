package kafka

// Wire-level checks of what the Apache Kafka Java client sends and expects
// (clients/src/main/java/org/apache/kafka/clients/...), each named after the
// Java code path it protects.

import (
	"testing"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInitProducerIDUnavailableIsRetriable: the Java idempotent producer
// (TransactionManager.InitProducerIdHandler) answers NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE with a transaction-coordinator lookup for its
// null transactional id, whose empty FindCoordinator answer is fatal; the
// broker must answer a retriable code that is neither.
func TestInitProducerIDUnavailableIsRetriable(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{cluster.ErrNotReady, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrNotLeader, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrStopped, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrTimeout, kerr.RequestTimedOut.Code},
		{nil, 0},
	} {
		fb.mu.Lock()
		fb.pidErr = tc.err
		fb.mu.Unlock()
		for _, v := range []int16{0, 2, 4} {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionTimeoutMillis = v, 1<<31-1
			resp := rc.roundTrip(req).(*kmsg.InitProducerIDResponse)
			if resp.ErrorCode != tc.want {
				t.Errorf("v%d backend error %v: code %d, want %d", v, tc.err, resp.ErrorCode, tc.want)
			}
			if tc.want != 0 && !kerr.IsRetriable(kerr.ErrorForCode(resp.ErrorCode)) {
				t.Errorf("v%d backend error %v: code %d is not retriable", v, tc.err, resp.ErrorCode)
			}
			if tc.err == nil && resp.ProducerID < 0 {
				t.Errorf("v%d: producer id %d", v, resp.ProducerID)
			}
		}
	}
}
