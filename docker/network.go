package docker

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// subnetBase is the /16 the harness carves its /24 run networks from.
// Private, and far from Docker's default 172.17-31 pools.
var subnetBase = netip.MustParseAddr("10.77.0.0")

// createNetwork creates the run's bridge network on a /24 that overlaps no
// existing Docker network and no host interface address. The scan starts
// at a point derived from the run id so that concurrent runs rarely race
// for the same subnet; a lost race ("pool overlaps") moves to the next one.
func createNetwork(ctx context.Context, eng *Engine, name, runID string) (string, netip.Prefix, error) {
	taken, err := takenPrefixes(ctx, eng)
	if err != nil {
		return "", netip.Prefix{}, err
	}
	h := fnv.New32a()
	h.Write([]byte(runID))
	start := int(h.Sum32() % 256)
	var lastErr error
	for i := range 256 {
		b := subnetBase.As4()
		b[2] = byte((start + i) % 256)
		p := netip.PrefixFrom(netip.AddrFrom4(b), 24)
		if overlapsAny(p, taken) {
			continue
		}
		gw := p.Addr().Next()
		res, err := eng.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			IPAM:   &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: p, Gateway: gw}}},
			Labels: runLabels(runID),
		})
		if err == nil {
			return res.ID, p, nil
		}
		lastErr = err
		if !strings.Contains(strings.ToLower(err.Error()), "overlap") {
			return "", netip.Prefix{}, fmt.Errorf("create network %s on %s: %w", name, p, err)
		}
		taken = append(taken, p)
	}
	return "", netip.Prefix{}, fmt.Errorf("create network %s: no free /24 in %s/16: %w", name, subnetBase, lastErr)
}

// takenPrefixes lists the subnets of every Docker network and of every host
// interface.
func takenPrefixes(ctx context.Context, eng *Engine) ([]netip.Prefix, error) {
	res, err := eng.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []netip.Prefix
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() {
				out = append(out, c.Subnet.Masked())
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if p, err := netip.ParsePrefix(ipn.String()); err == nil {
					out = append(out, p.Masked())
				}
			}
		}
	}
	return out, nil
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	for _, t := range taken {
		if t.Addr().Is4() && p.Overlaps(t) {
			return true
		}
	}
	return false
}

// nodeAddr is node i's fixed address in subnet p: .10+i (n1 = .11).
func nodeAddr(p netip.Prefix, i int) netip.Addr {
	b := p.Masked().Addr().As4()
	b[3] = byte(10 + i)
	return netip.AddrFrom4(b)
}
