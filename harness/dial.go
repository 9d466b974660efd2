package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Dialing brokers. A killed node's address stops answering: first with
// connection refused (the process is gone, its namespace still there),
// then with silence (the container's namespace is gone), so every dial
// waits out its timeout. franz-go reacts to the two differently: a refused
// dial makes the producer refresh its metadata and find the new leader,
// while a timed-out dial is retried on the same broker without a refresh,
// and each retry waits again. Runs showed 11-16 s without one successful
// send after a single kill, against a broker failover of about 0.65 s.
//
// dialGuard therefore does two things for every client of a run:
//
//   - a dial that times out is reported as a non-timeout dial error (the
//     connection was never made, exactly as with a refusal), so franz-go
//     refreshes its metadata and moves to the partition's new leader;
//   - an address whose dial just failed is down for deadFor: dials to it
//     fail at once instead of each waiting out the timeout (one client's
//     failure routes every other client away from the dead node), except
//     one probe per deadFor, so a restarted node is found again within
//     about deadFor.
//
// Neither changes what the history means: a failed dial sends nothing, and
// franz-go, like the harness (ClassifyWrite), treats it as such.
type dialGuard struct {
	timeout, deadFor time.Duration
	now              func() time.Time

	mu sync.Mutex
	// down maps an address to the time until which dials to it fail at
	// once; an address is absent once a dial to it succeeded.
	down map[string]time.Time
	// dial makes the connection (net.Dialer's; tests replace it).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial timeouts. clientDialTimeout is far above a connect on the run's
// bridge network (well under a millisecond, a few on a loaded machine) and
// at the kernel's first SYN retransmission (1 s), so a dial under packet
// loss still gets one retransmission most of the time; clientDeadFor is how
// long a failed address is avoided before the next probe.
const (
	clientDialTimeout = 1200 * time.Millisecond
	clientDeadFor     = 500 * time.Millisecond
)

// errNodeDown is the cause of a dial the guard failed or that timed out.
// It has no Timeout method, so franz-go sees a non-timeout dial error.
var errNodeDown = errors.New("node unreachable")

// runDialer is the one guard of the harness process: every client shares
// what the others learned about dead nodes.
var runDialer = newDialGuard(clientDialTimeout, clientDeadFor)

func newDialGuard(timeout, deadFor time.Duration) *dialGuard {
	d := &net.Dialer{Timeout: timeout}
	return &dialGuard{timeout: timeout, deadFor: deadFor, now: time.Now, down: map[string]time.Time{}, dial: d.DialContext}
}

// DialContext has the signature of kgo.Dialer.
func (g *dialGuard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	now := g.now()
	g.mu.Lock()
	until, known := g.down[addr]
	if known && now.Before(until) {
		g.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w: a dial to %s failed less than %v ago", errNodeDown, addr, g.deadFor)}
	}
	if known {
		// This dial is the probe: the others keep failing at once
		// until it has had its chance.
		g.down[addr] = now.Add(g.timeout + g.deadFor)
	}
	g.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	conn, err := g.dial(dctx, network, addr)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err == nil:
		delete(g.down, addr)
		return conn, nil
	case ctx.Err() != nil:
		// The caller gave up, the node said nothing: nothing learned.
		if known {
			g.down[addr] = g.now()
		}
		return nil, err
	}
	g.down[addr] = g.now().Add(g.deadFor)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w: dial %s timed out after %v", errNodeDown, addr, g.timeout)}
	}
	return nil, err
}

// isDialErr reports whether err is a failed dial: no connection was made,
// so no request was written on it.
func isDialErr(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && ne.Op == "dial"
}
