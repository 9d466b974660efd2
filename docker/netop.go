package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// A NetOp is one network-fault operation inside a node's network
// namespace: installing or removing rules, reading them back, or probing
// from there. Both fault paths run the same NetOp code: the host path
// enters the namespace from the harness process (/proc/<pid>/ns/net, which
// needs root on the engine's host), the agent path runs it in the node's
// fault-agent container (`chaos agent net <json>`, agent.go), which shares
// the node's namespace. The operation crosses the Docker API as JSON, so
// every field is plain data.
type NetOp struct {
	// Op is one of the Op* constants.
	Op string `json:"op"`
	// Peers are the peer addresses a cut or a loss drops packets from.
	Peers []netip.Addr `json:"peers,omitempty"`
	// Percent is the share a loss or a client loss drops.
	Percent int `json:"percent,omitempty"`
	// Mode is the client fault mode (nemesis.ClientBoth, ...); empty
	// removes the client fault.
	Mode string `json:"mode,omitempty"`
	// Port is the Kafka port a client fault matches.
	Port uint16 `json:"port,omitempty"`
	// NodesFrom..NodesTo is the range of the run's node addresses: a
	// client fault matches every source outside it (see clientfault.go).
	NodesFrom netip.Addr `json:"nodes_from,omitzero"`
	NodesTo   netip.Addr `json:"nodes_to,omitzero"`
	// Target is what a probe dials; Timeout bounds one dial, N is the
	// number of dials of a loss probe.
	Target  netip.AddrPort `json:"target,omitzero"`
	Timeout time.Duration  `json:"timeout,omitempty"`
	N       int            `json:"n,omitempty"`
}

// Network operations.
const (
	OpCut         = "cut"
	OpLoss        = "loss"
	OpHeal        = "heal"
	OpClient      = "client"
	OpRules       = "rules"
	OpClientRules = "client-rules"
	OpClientCount = "client-count"
	OpProbe       = "probe"
	OpProbeLoss   = "probe-loss"
)

// NetResult is what a NetOp answers. An operation that failed carries
// Error (and NoNftables when the kernel has no nf_tables); a probe whose
// dial failed is not a failed operation: DialError says why, DialTimeout
// whether it timed out (dropped packets) rather than was refused.
type NetResult struct {
	Rules       []string `json:"rules,omitempty"`
	Packets     uint64   `json:"packets,omitempty"`
	Counted     bool     `json:"counted,omitempty"`
	Connected   float64  `json:"connected,omitempty"`
	DialError   string   `json:"dial_error,omitempty"`
	DialTimeout bool     `json:"dial_timeout,omitempty"`
	Error       string   `json:"error,omitempty"`
	NoNftables  bool     `json:"no_nftables,omitempty"`
}

// netNS is where a NetOp runs: conn opens an nftables connection into the
// namespace, run runs do with its sockets created in the namespace (do
// must not start goroutines that create sockets).
type netNS struct {
	conn func() (*nftables.Conn, error)
	run  func(do func()) error
}

// localNS is the namespace of the calling process: the agent's, which is
// the node's.
var localNS = netNS{
	conn: func() (*nftables.Conn, error) { return nftables.New() },
	run:  func(do func()) error { do(); return nil },
}

// RunAgentOp decodes a NetOp from raw and runs it in the calling process's
// own network namespace: the body of `chaos agent net`. Failures are in
// the result, never lost.
func RunAgentOp(ctx context.Context, raw []byte) NetResult {
	var op NetOp
	if err := json.Unmarshal(raw, &op); err != nil {
		return NetResult{Error: fmt.Sprintf("decode network operation: %v", err)}
	}
	res, err := op.run(ctx, localNS)
	if err != nil {
		res.Error = err.Error()
		res.NoNftables = errors.Is(err, ErrNoNftables)
	}
	return res
}

// run performs op in ns.
func (op NetOp) run(ctx context.Context, ns netNS) (NetResult, error) {
	switch op.Op {
	case OpCut, OpLoss, OpHeal, OpClient:
		conn, err := ns.conn()
		if err != nil {
			return NetResult{}, classifyNft(fmt.Errorf("nftables connection: %w", err))
		}
		if err := op.queue(conn); err != nil {
			return NetResult{}, err
		}
		return NetResult{}, classifyNft(conn.Flush())
	case OpRules, OpClientRules:
		conn, err := ns.conn()
		if err != nil {
			return NetResult{}, classifyNft(fmt.Errorf("nftables connection: %w", err))
		}
		rules, err := listRules(conn, op.Op == OpClientRules)
		return NetResult{Rules: rules}, classifyNft(err)
	case OpClientCount:
		conn, err := ns.conn()
		if err != nil {
			return NetResult{}, classifyNft(fmt.Errorf("nftables connection: %w", err))
		}
		n, found, err := clientCounter(conn)
		return NetResult{Packets: n, Counted: found}, classifyNft(err)
	case OpProbe:
		var dialErr error
		if err := ns.run(func() { dialErr = dialOnce(ctx, op.Target, op.Timeout) }); err != nil {
			return NetResult{}, err
		}
		if dialErr != nil {
			return NetResult{DialError: dialErr.Error(), DialTimeout: isDialTimeout(dialErr)}, nil
		}
		return NetResult{}, nil
	case OpProbeLoss:
		frac, err := probeLoss(ctx, ns, op.Target, op.N, dialOnce)
		return NetResult{Connected: frac}, err
	}
	return NetResult{}, fmt.Errorf("unknown network operation %q", op.Op)
}

// queue queues the rule changes of a cut, loss, heal or client fault; the
// caller commits them as one transaction.
func (op NetOp) queue(conn *nftables.Conn) error {
	switch op.Op {
	case OpCut:
		ch := replaceChain(conn, cutChain, 0)
		for _, a := range op.Peers {
			conn.AddRule(&nftables.Rule{Table: chaosTableRef, Chain: ch, Exprs: dropFrom(a, 0)})
		}
	case OpLoss:
		if op.Percent < 0 || op.Percent > 100 {
			return fmt.Errorf("loss percent %d outside 0..100", op.Percent)
		}
		ch := replaceChain(conn, lossChain, 1)
		if op.Percent > 0 {
			for _, a := range op.Peers {
				conn.AddRule(&nftables.Rule{Table: chaosTableRef, Chain: ch, Exprs: dropFrom(a, op.Percent)})
			}
		}
	case OpHeal:
		// Adding first makes the delete succeed whether or not the table
		// existed; both happen in one transaction.
		conn.AddTable(chaosTableRef)
		conn.DelTable(chaosTableRef)
	case OpClient:
		return queueClientFault(conn, op)
	}
	return nil
}

// listRules reads our partition/loss table, or the client table, as
// "chain: rule" lines. No table, no lines.
func listRules(conn *nftables.Conn, client bool) ([]string, error) {
	table, chains, describe := chaosTableRef, []string{cutChain, lossChain}, describeRule
	if client {
		table, chains, describe = clientTableRef, []string{clientInChain, clientOutChain}, describeClientRule
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == table.Name }) {
		return nil, nil
	}
	var out []string
	for _, ch := range chains {
		rules, err := conn.GetRules(table, &nftables.Chain{Name: ch, Table: table})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, err
		}
		for _, r := range rules {
			out = append(out, ch+": "+describe(r))
		}
	}
	return out, nil
}

// clientCounter reads the counting rule of the client table.
func clientCounter(conn *nftables.Conn) (n uint64, found bool, err error) {
	rules, err := conn.GetRules(clientTableRef, &nftables.Chain{Name: clientInChain, Table: clientTableRef})
	if err != nil {
		return 0, false, err
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				n, found = ctr.Packets, true
			}
		}
	}
	return n, found, nil
}

// probeLoss makes n short TCP connects (LossProbeTimeout each) to target
// from inside ns and returns the fraction that connected. Failures other
// than timeouts and refusals (a namespace that cannot be entered) are
// errors.
func probeLoss(ctx context.Context, ns netNS, target netip.AddrPort, n int, dial dialFunc) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("need a positive probe count, got %d", n)
	}
	var (
		next, ok atomic.Int64
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for range min(lossProbeWorkers, n) {
		wg.Go(func() {
			err := ns.run(func() {
				for next.Add(1) <= int64(n) && ctx.Err() == nil {
					if dial(ctx, target, LossProbeTimeout) == nil {
						ok.Add(1)
					}
				}
			})
			if err != nil {
				errMu.Lock()
				firstErr = cmpErr(firstErr, err)
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(ok.Load()) / float64(n), nil
}

func isDialTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// DialError is a probe's failed dial as the agent reported it: the
// message, and whether it timed out (net.Error's Timeout), which the
// nemesis tells apart from a refusal.
type DialError struct {
	Msg      string
	TimedOut bool
}

func (e *DialError) Error() string { return e.Msg }

// Timeout reports whether the dial timed out.
func (e *DialError) Timeout() bool { return e.TimedOut }

// dialErr rebuilds a probe's dial failure from its result (nil: it
// connected).
func (r NetResult) dialErr() error {
	if r.DialError == "" {
		return nil
	}
	return &DialError{Msg: r.DialError, TimedOut: r.DialTimeout}
}

// dialFunc is one probe: nil when it got through within timeout.
type dialFunc func(ctx context.Context, target netip.AddrPort, timeout time.Duration) error

// dialOnce connects to target and closes at once.
func dialOnce(ctx context.Context, target netip.AddrPort, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return err
	}
	return conn.Close()
}
