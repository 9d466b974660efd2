package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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
//	                       ip saddr != <nodes> tcp dport <kafka> counter
//	                       ip saddr != <nodes> tcp dport <kafka> [numgen random mod 100 < pct] drop }
//	    chain client_out { type filter hook output priority -1; policy accept;
//	                       ip daddr != <nodes> tcp sport <kafka> [numgen random mod 100 < pct] drop }
//	}
//
// The harness's clients run on the host and reach a node from an address
// that is not a node's (nodeRange); only their Kafka traffic is matched, so the
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

// nodeRange is the range of addresses the run's nodes can have (.11 to
// .10+maxNodeID of the run's /24, see nodeAddr). A client is any source
// outside it: the bridge gateway when the clients reach container
// addresses directly, and also when they reach published ports (the
// engine's port proxy, on the host or in a rootless engine's namespace,
// connects from the gateway), or whatever address a Docker Desktop VM
// forwards from. Matching "not a node" instead of "the gateway" keeps the
// fault on the client traffic whatever the engine does to source
// addresses, while peers are never matched.
func (c *Cluster) nodeRange() (netip.Addr, netip.Addr) {
	return nodeAddr(c.subnet, 1), nodeAddr(c.subnet, maxNodeID)
}

// CutClients installs cut at node, replacing any client fault there; the
// zero ClientCut removes it (deletes the table). Peer traffic is never
// matched.
func (c *Cluster) CutClients(ctx context.Context, node string, cut nemesis.ClientCut) error {
	from, to := c.nodeRange()
	op := NetOp{Op: OpClient, Mode: cut.Mode, Percent: cut.Percent, Port: uint16(c.cfg.KafkaPort), NodesFrom: from, NodesTo: to}
	if err := op.checkClient(); err != nil {
		return fmt.Errorf("cut clients at %s: %w", node, err)
	}
	if _, err := c.netOp(ctx, node, op); err != nil {
		if cut.Mode == "" {
			return fmt.Errorf("heal clients at %s: %w", node, err)
		}
		return fmt.Errorf("cut clients at %s (%s): %w", node, cut.Mode, err)
	}
	c.log.Debug("clients cut", "node", node, "mode", cut.Mode, "percent", cut.Percent)
	return nil
}

// clientDrops maps a client fault mode to its drop rules: -1 no drop rule,
// 0 drop everything, else the share dropped.
func (op NetOp) clientDrops() (inPct, outPct int, err error) {
	switch op.Mode {
	case "":
		return -1, -1, nil
	case nemesis.ClientBoth:
		return 0, 0, nil
	case nemesis.ClientResponses:
		return -1, 0, nil
	case nemesis.ClientLoss:
		if op.Percent < 1 || op.Percent > 99 {
			return 0, 0, fmt.Errorf("client loss percent %d outside 1..99", op.Percent)
		}
		return op.Percent, op.Percent, nil
	}
	return 0, 0, fmt.Errorf("unknown client fault mode %q", op.Mode)
}

func (op NetOp) checkClient() error {
	_, _, err := op.clientDrops()
	return err
}

// queueClientFault queues replacing the client table: deleted, and unless
// op.Mode is empty created anew with the counting rule and the drop rules
// of the mode.
func queueClientFault(conn *nftables.Conn, op NetOp) error {
	inPct, outPct, err := op.clientDrops()
	if err != nil {
		return err
	}
	if !op.NodesFrom.Is4() || !op.NodesTo.Is4() {
		return errors.New("client fault without the range of node addresses")
	}
	conn.AddTable(clientTableRef)
	conn.DelTable(clientTableRef)
	if op.Mode == "" {
		return nil
	}
	conn.AddTable(clientTableRef)
	in := conn.AddChain(clientChainRef(clientInChain, nftables.ChainHookInput))
	out := conn.AddChain(clientChainRef(clientOutChain, nftables.ChainHookOutput))
	conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: in,
		Exprs: append(clientMatch(op, true), &expr.Counter{})})
	if inPct >= 0 {
		conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: in,
			Exprs: append(clientMatch(op, true), dropShare(inPct)...)})
	}
	if outPct >= 0 {
		conn.AddRule(&nftables.Rule{Table: clientTableRef, Chain: out,
			Exprs: append(clientMatch(op, false), dropShare(outPct)...)})
	}
	return nil
}

// clientMatch matches the clients' Kafka traffic at a node: packets from
// any address outside the node range to the Kafka port (in) or from the
// Kafka port to such an address (out).
func clientMatch(op NetOp, in bool) []expr.Any {
	from, to := op.NodesFrom.As4(), op.NodesTo.As4()
	addrOff, portOff := uint32(12), uint32(2) // ip saddr, tcp dport
	if !in {
		addrOff, portOff = 16, 0 // ip daddr, tcp sport
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: 4},
		&expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: from[:], ToData: to[:]},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(op.Port)},
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
	res, err := c.netOp(ctx, node, NetOp{Op: OpClientCount})
	if err != nil {
		return 0, fmt.Errorf("client packet counter at %s: %w", node, err)
	}
	if !res.Counted {
		return 0, fmt.Errorf("client packet counter at %s: no client fault installed", node)
	}
	return res.Packets, nil
}

// ClientRules lists the rules of node's client table as "chain: rule"
// lines, for tests and diagnostics. No table, no lines.
func (c *Cluster) ClientRules(ctx context.Context, node string) ([]string, error) {
	res, err := c.netOp(ctx, node, NetOp{Op: OpClientRules})
	if err != nil {
		return nil, fmt.Errorf("client rules at %s: %w", node, err)
	}
	return res.Rules, nil
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
// to node's Kafka port: the path client traffic takes. Through published
// ports the connection also carries one Kafka request (clientProbe).
func (c *Cluster) ProbeClient(ctx context.Context, node string, timeout time.Duration) error {
	target, err := c.clientAddrPort(node)
	if err != nil {
		return fmt.Errorf("probe clients -> %s: %w", node, err)
	}
	if err := c.clientProbe()(ctx, target, timeout); err != nil {
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
	target, err := c.clientAddrPort(node)
	if err != nil {
		return 0, fmt.Errorf("probe client loss -> %s: %w", node, err)
	}
	frac, err := probeLoss(ctx, localNS, target, n, c.clientProbe())
	if err != nil {
		return 0, fmt.Errorf("probe client loss -> %s: %w", node, err)
	}
	return frac, nil
}
