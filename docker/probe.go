package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// Probes dial from inside a node's network namespace, so that they cross
// exactly the rules a peer's traffic crosses. Entering a namespace is per OS
// thread: see runInNetNS.

// LossProbeTimeout bounds each probe of ProbeLoss. It is under the kernel's
// initial SYN retransmission timeout (1 s), so a probe is one SYN and one
// SYN-ACK: a dropped packet shows as a failed probe instead of being hidden
// by a retransmission.
const LossProbeTimeout = 400 * time.Millisecond

// lossProbeWorkers dial in parallel; each holds one OS thread in the
// namespace for its share of the probes.
const lossProbeWorkers = 32

// Probe opens a TCP connection from inside from's network namespace to
// to's raft port and reports whether it connected within timeout. A dropped
// handshake shows as a timeout; a refusal means the packets got through but
// nothing listens.
func (c *Cluster) Probe(ctx context.Context, from, to string, timeout time.Duration) error {
	target, err := c.raftAddrPort(to)
	if err != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, err)
	}
	res, err := c.netOp(ctx, from, NetOp{Op: OpProbe, Target: target, Timeout: timeout})
	if err == nil {
		err = res.dialErr()
	}
	if err != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, err)
	}
	return nil
}

// ProbeLoss makes n short TCP connects (LossProbeTimeout each) from inside
// from's namespace to to's raft port and returns the fraction that
// connected. Failures other than timeouts and refusals (a namespace that
// cannot be entered) are errors.
func (c *Cluster) ProbeLoss(ctx context.Context, from, to string, n int) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("probe loss %s -> %s: need a positive probe count, got %d", from, to, n)
	}
	target, err := c.raftAddrPort(to)
	if err != nil {
		return 0, fmt.Errorf("probe loss %s -> %s: %w", from, to, err)
	}
	res, err := c.netOp(ctx, from, NetOp{Op: OpProbeLoss, Target: target, N: n})
	if err != nil {
		return 0, fmt.Errorf("probe loss %s -> %s: %w", from, to, err)
	}
	return res.Connected, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (c *Cluster) raftAddrPort(node string) (netip.AddrPort, error) {
	a := c.Addr(node)
	if !a.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("no address for node %q", node)
	}
	return netip.AddrPortFrom(a, uint16(c.RaftPort())), nil
}

// runInNetNS runs do on a fresh goroutine, locked to its OS thread and
// switched into ns, then switches the thread back. If switching back fails
// the thread stays locked, and the runtime destroys it when the goroutine
// ends, so no other goroutine ever runs in the wrong namespace. do must not
// start goroutines that create sockets: they would run on other threads, in
// the host namespace.
func runInNetNS(ns netns.NsHandle, do func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("save current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		do()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(errors.New("restore network namespace"), err)
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	return <-done
}
