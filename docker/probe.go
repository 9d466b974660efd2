package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
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

// Probe opens a TCP connection from inside from's network namespace to to's
// raft port and reports whether it connected within timeout. A dropped
// handshake shows as a timeout; a refusal means the packets got through but
// nothing listens.
func (c *Cluster) Probe(ctx context.Context, from, to string, timeout time.Duration) error {
	target, err := c.raftAddrPort(to)
	if err != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, err)
	}
	ns, err := c.netnsHandle(ctx, from)
	if err != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, err)
	}
	defer ns.Close()
	var dialErr error
	err = runInNetNS(ns, func() {
		dialErr = dialOnce(ctx, target, timeout)
	})
	if err != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, err)
	}
	if dialErr != nil {
		return fmt.Errorf("probe %s -> %s: %w", from, to, dialErr)
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
	ns, err := c.netnsHandle(ctx, from)
	if err != nil {
		return 0, fmt.Errorf("probe loss %s -> %s: %w", from, to, err)
	}
	defer ns.Close()
	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	workers := min(lossProbeWorkers, n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := runInNetNS(ns, func() {
				for next.Add(1) <= int64(n) && ctx.Err() == nil {
					if dialOnce(ctx, target, LossProbeTimeout) == nil {
						ok.Add(1)
					}
				}
			})
			if err != nil {
				errMu.Lock()
				firstErr = cmpErr(firstErr, err)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("probe loss %s -> %s: %w", from, to, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("probe loss %s -> %s: %w", from, to, err)
	}
	return float64(ok.Load()) / float64(n), nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// dialOnce connects to target and closes at once.
func dialOnce(ctx context.Context, target netip.AddrPort, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return err
	}
	return conn.Close()
}

func (c *Cluster) raftAddrPort(node string) (netip.AddrPort, error) {
	a := c.Addr(node)
	if !a.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("no address for node %q", node)
	}
	return netip.AddrPortFrom(a, uint16(c.RaftPort())), nil
}

// netnsHandle opens the network namespace of node's broker process.
func (c *Cluster) netnsHandle(ctx context.Context, node string) (netns.NsHandle, error) {
	pid, err := c.PID(ctx, node)
	if err != nil {
		return netns.None(), err
	}
	h, err := netns.GetFromPid(pid)
	if err != nil {
		return netns.None(), fmt.Errorf("open network namespace of %s (pid %d): %w", node, pid, err)
	}
	return h, nil
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
