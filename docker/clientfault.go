package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Client faults live in a second table of our own in the node's namespace,
// so that healing a partition (deleting chronik_chaos) never heals a client
// fault and the other way round:
//
//	table inet chronik_chaos_client {
//	    chain client_in  { type filter hook input priority -1; policy accept;
//	                       ip saddr <gw> tcp dport <kafka> counter
//	                       ip saddr <gw> tcp dport <kafka> [numgen random mod 100 < pct] drop }
//	    chain client_out { type filter hook output priority -1; policy accept;
//	                       ip daddr <gw> tcp sport <kafka> [numgen random mod 100 < pct] drop }
//	}
//
// The harness's clients run on the host and reach a node from the run
// network's gateway address; only their Kafka traffic is matched, so the
// admin port (which the nemesis proves pauses and reads leaders through)
// and the peers' Raft traffic are untouched. The counting rule lets a
// responses-only cut prove that requests still arrive.
const (
	clientTable    = "chronik_chaos_client"
	clientInChain  = "client_in"
	clientOutChain = "client_out"
)

var clientTableRef = &nftables.Table{Name: clientTable, Family: nftables.TableFamilyINet}

func clientChainRef(name string, hook *nftables.ChainHook) *nftables.Chain {
	policy := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name:     name,
		Table:    clientTableRef,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  hook,
		Priority: nftables.ChainPriorityRef(nftables.ChainPriority(-1)),
		Policy:   &policy,
	}
}

// gateway is the address the host, and so the harness's clients, have on
// the run network (createNetwork gives it the subnet's first address).
func (c *Cluster) gateway() netip.Addr { return c.subnet.Addr().Next() }

// CutClients installs cut at node, replacing any client fault there; the
// zero ClientCut removes it (deletes the table). Peer traffic is never
// matched.
func (c *Cluster) CutClients(ctx context.Context, node string, cut nemesis.ClientCut) error {
	if cut.Mode == "" {
		err := c.inNetNS(ctx, node, func(conn *nftables.Conn) {
			conn.AddTable(clientTableRef)
			conn.DelTable(clientTableRef)
		})
		if err != nil {
			return fmt.Errorf("heal clients at %s: %w", node, err)
		}
		return nil
	}
	var inPct, outPct int // -1: no drop rule; 0: drop everything; else a share
	switch cut.Mode {
	case nemesis.ClientBoth:
		inPct, outPct = 0, 0
	case nemesis.ClientResponses:
		inPct, outPct = -1, 0
	case nemesis.ClientLoss:
		if cut.Percent < 1 || cut.Percent > 99 {
			return fmt.Errorf("client loss at %s: percent %d outside 1..99", node, cut.Percent)
		}
		inPct, outPct = cut.Percent, cut.Percent
	default:
		return fmt.Errorf("cut clients at %s: unknown mode %q", node, cut.Mode)
	}
	gw, port := c.gateway(), uint16(c.cfg.KafkaPort)
	err := c.inNetNS(ctx, node, func(conn *nftables.Conn) {
		conn.AddTable(clientTableRef)
		conn.DelTable(clientTableRef)
		conn.AddTable(clientTableRef)
		in := conn.AddChain(clientChainRef(clientInChain, nftables.ChainHookInput))
		out := conn.AddChain(clientChainRef(clientOutChain, nftables.ChainHookOutput))
		conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: in,
			Exprs: append(clientMatch(gw, port, true), &expr.Counter{})})
		if inPct >= 0 {
			conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: in,
				Exprs: append(clientMatch(gw, port, true), dropShare(inPct)...)})
		}
		if outPct >= 0 {
			conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: out,
				Exprs: append(clientMatch(gw, port, false), dropShare(outPct)...)})
		}
	})
	if err != nil {
		return fmt.Errorf("cut clients at %s (%s): %w", node, cut.Mode, err)
	}
	c.log.Debug("clients cut", "node", node, "mode", cut.Mode, "percent", cut.Percent)
	return nil
}

// clientMatch matches the clients' Kafka traffic at a node: packets from
// the gateway to the Kafka port (in) or from the Kafka port to the gateway
// (out).
func clientMatch(gw netip.Addr, port uint16, in bool) []expr.Any {
	ip := gw.As4()
	addrOff, portOff := uint32(12), uint32(2) // ip saddr, tcp dport
	if !in {
		addrOff, portOff = 16, 0 // ip daddr, tcp sport
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// dropShare is "[numgen random mod 100 < pct] drop"; pct 0 drops all.
func dropShare(pct int) []expr.Any {
	var out []expr.Any
	if pct > 0 {
		out = append(out,
			&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(pct))},
		)
	}
	return append(out, &expr.Verdict{Kind: expr.VerdictDrop})
}

// ClientPacketsIn reads the counting rule of node's client fault: how many
// client packets reached node's input hook on the Kafka port since the
// fault was installed. An error when no client fault is installed.
func (c *Cluster) ClientPacketsIn(ctx context.Context, node string) (uint64, error) {
	var n uint64
	found := false
	err := c.withNetNSConn(ctx, node, func(conn *nftables.Conn) error {
		rules, err := conn.GetRules(clientTableRef, &nftables.Chain{Name: clientInChain, Table: clientTableRef})
		if err != nil {
			return err
		}
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ctr, ok := e.(*expr.Counter); ok {
					n, found = ctr.Packets, true
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("client packet counter at %s: %w", node, err)
	}
	if !found {
		return 0, fmt.Errorf("client packet counter at %s: no client fault installed", node)
	}
	return n, nil
}

// ClientRules lists the rules of node's client table as "chain: rule"
// lines, for tests and diagnostics. No table, no lines.
func (c *Cluster) ClientRules(ctx context.Context, node string) ([]string, error) {
	var out []string
	err := c.withNetNSConn(ctx, node, func(conn *nftables.Conn) error {
		tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == clientTable }) {
			return nil
		}
		for _, ch := range []string{clientInChain, clientOutChain} {
			rules, err := conn.GetRules(clientTableRef, &nftables.Chain{Name: ch, Table: clientTableRef})
			if err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return err
			}
			for _, r := range rules {
				out = append(out, ch+": "+describeClientRule(r))
			}
		}
		return nil
	})
	return out, err
}

func describeClientRule(r *nftables.Rule) string {
	verdict, pct := "count", 100
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Verdict:
			if e.Kind == expr.VerdictDrop {
				verdict = "drop"
			}
		case *expr.Cmp:
			if e.Op == expr.CmpOpLt && len(e.Data) == 4 {
				pct = int(binary.BigEndian.Uint32(e.Data))
			}
		}
	}
	if verdict == "drop" {
		return fmt.Sprintf("drop %d%%", pct)
	}
	return verdict
}

// ProbeClient opens a TCP connection from the host, where the clients run,
// to node's Kafka port: the path client traffic takes.
func (c *Cluster) ProbeClient(ctx context.Context, node string, timeout time.Duration) error {
	if !c.Addr(node).IsValid() {
		return fmt.Errorf("probe clients -> %s: unknown node", node)
	}
	target := netip.AddrPortFrom(c.Addr(node), uint16(c.cfg.KafkaPort))
	if err := dialOnce(ctx, target, timeout); err != nil {
		return fmt.Errorf("probe clients -> %s: %w", node, err)
	}
	return nil
}

// ProbeClientLoss makes n short connects (LossProbeTimeout each) from the
// host to node's Kafka port and returns the fraction that connected.
func (c *Cluster) ProbeClientLoss(ctx context.Context, node string, n int) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("probe client loss -> %s: need a positive probe count, got %d", node, n)
	}
	if !c.Addr(node).IsValid() {
		return 0, fmt.Errorf("probe client loss -> %s: unknown node", node)
	}
	target := netip.AddrPortFrom(c.Addr(node), uint16(c.cfg.KafkaPort))
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	for range min(lossProbeWorkers, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if dialOnce(ctx, target, LossProbeTimeout) == nil {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("probe client loss -> %s: %w", node, err)
	}
	return float64(ok.Load()) / float64(n), nil
}
