package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Network faults live in one nftables table of our own inside each node's
// network namespace, so Docker's rules (which live in the host namespace
// anyway) are never touched and healing is deleting the table:
//
//	table inet chronik_chaos {
//	    chain cut  { type filter hook input priority 0; policy accept;
//	                 ip saddr <peer> drop ... }
//	    chain loss { type filter hook input priority 1; policy accept;
//	                 ip saddr <peer> numgen random mod 100 < pct drop ... }
//	}
//
// Only peer addresses are matched: clients connect from the bridge gateway
// (the host) and keep reaching every node. An input-chain drop is enough to
// cut TCP both ways, since a handshake needs packets in both directions.
// Rules die with the namespace when a container stops, so the nemesis
// re-applies them after a restart (nemesis.Scheduler.Reapply).
const (
	chaosTable = "chronik_chaos"
	cutChain   = "cut"
	lossChain  = "loss"
)

// Cluster implements the whole nemesis.Cluster: lifecycle in node.go,
// network faults here, probes in probe.go.
var _ nemesis.Cluster = (*Cluster)(nil)

// ErrNoNftables means the kernel offers no nf_tables in a node's namespace,
// so network faults cannot be injected there.
var ErrNoNftables = errors.New("docker: nftables is not available in the container's network namespace (kernel without nf_tables?)")

var chaosTableRef = &nftables.Table{Name: chaosTable, Family: nftables.TableFamilyINet}

func chainRef(name string, prio int32) *nftables.Chain {
	policy := nftables.ChainPolicyAccept
	return &nftables.Chain{
		Name:     name,
		Table:    chaosTableRef,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio)),
		Policy:   &policy,
	}
}

// Cut makes node drop every packet from the listed peers, replacing any
// earlier cut of node (an empty list removes the cut). A loss in effect on
// node stays.
func (c *Cluster) Cut(ctx context.Context, node string, from []string) error {
	addrs, err := c.peerAddrs(from)
	if err != nil {
		return fmt.Errorf("cut at %s: %w", node, err)
	}
	if _, err := c.netOp(ctx, node, NetOp{Op: OpCut, Peers: addrs}); err != nil {
		return fmt.Errorf("cut at %s from %v: %w", node, from, err)
	}
	c.log.Debug("network cut", "node", node, "from", from)
	return nil
}

// Loss makes node drop pct percent of the packets from the listed peers,
// replacing any earlier loss of node (pct 0 or no peers removes it). A cut
// in effect on node stays.
func (c *Cluster) Loss(ctx context.Context, node string, from []string, pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("loss at %s: percent %d outside 0..100", node, pct)
	}
	addrs, err := c.peerAddrs(from)
	if err != nil {
		return fmt.Errorf("loss at %s: %w", node, err)
	}
	if _, err := c.netOp(ctx, node, NetOp{Op: OpLoss, Peers: addrs, Percent: pct}); err != nil {
		return fmt.Errorf("loss at %s from %v: %w", node, from, err)
	}
	c.log.Debug("network loss", "node", node, "from", from, "percent", pct)
	return nil
}

// HealNet removes every network fault of node by deleting our table; it is
// a no-op when there is none. Nothing else in the namespace is touched.
func (c *Cluster) HealNet(ctx context.Context, node string) error {
	if _, err := c.netOp(ctx, node, NetOp{Op: OpHeal}); err != nil {
		return fmt.Errorf("heal network at %s: %w", node, err)
	}
	c.log.Debug("network healed", "node", node)
	return nil
}

// CheckNetFaults proves that network faults can be injected at node: it
// creates and deletes our table in node's namespace. The harness calls it
// before a run with partition or loss, to fail early and clearly.
func (c *Cluster) CheckNetFaults(ctx context.Context, node string) error {
	return c.HealNet(ctx, node)
}

// NetRules lists the rules of our table in node's namespace as
// "chain: expressions" lines, for tests and diagnostics. No table, no
// lines.
func (c *Cluster) NetRules(ctx context.Context, node string) ([]string, error) {
	res, err := c.netOp(ctx, node, NetOp{Op: OpRules})
	if err != nil {
		return nil, fmt.Errorf("rules at %s: %w", node, err)
	}
	return res.Rules, nil
}

// replaceChain queues (re)creating our table and chain name, emptied.
func replaceChain(conn *nftables.Conn, name string, prio int32) *nftables.Chain {
	conn.AddTable(chaosTableRef)
	ch := conn.AddChain(chainRef(name, prio))
	conn.FlushChain(ch)
	return ch
}

// dropFrom builds "meta nfproto ipv4 ip saddr a [numgen random mod 100 <
// pct] drop"; pct 0 means always drop. The byteorder step mirrors what nft
// emits: numgen leaves a host-order integer and cmp compares bytes.
func dropFrom(a netip.Addr, pct int) []expr.Any {
	ip := a.As4()
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
	}
	if pct > 0 && pct < 100 {
		exprs = append(exprs,
			&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(pct))},
		)
	}
	return append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})
}

// describeRule renders a rule of ours compactly: the source address and,
// for loss, the percentage.
func describeRule(r *nftables.Rule) string {
	var src netip.Addr
	pct := 100
	for _, e := range r.Exprs {
		if cmp, ok := e.(*expr.Cmp); ok {
			switch {
			case len(cmp.Data) == 4 && cmp.Op == expr.CmpOpEq:
				src = netip.AddrFrom4([4]byte(cmp.Data))
			case len(cmp.Data) == 4 && cmp.Op == expr.CmpOpLt:
				pct = int(binaryutil.BigEndian.Uint32(cmp.Data))
			}
		}
	}
	return fmt.Sprintf("drop %d%% from %s", pct, src)
}

// peerAddrs maps node names to their addresses.
func (c *Cluster) peerAddrs(nodes []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(nodes))
	for _, n := range nodes {
		a := c.Addr(n)
		if !a.Is4() {
			return nil, fmt.Errorf("no IPv4 address for node %q", n)
		}
		out = append(out, a)
	}
	return out, nil
}

// classifyNft marks the errors a kernel without nf_tables gives.
func classifyNft(err error) error {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: %w", ErrNoNftables, err)
	}
	return err
}
