package docker

import (
	"fmt"
	"net/netip"
)

// clientAddrPort is where the harness's clients reach node's Kafka
// listener.
func (c *Cluster) clientAddrPort(node string) (netip.AddrPort, error) {
	a := c.Addr(node)
	if !a.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("unknown node %q", node)
	}
	return netip.AddrPortFrom(a, uint16(c.cfg.KafkaPort)), nil
}
