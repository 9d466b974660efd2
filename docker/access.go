package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/network"
)

// Client access: how the harness's clients (and its admin requests) reach
// the nodes' listeners.
const (
	// AccessDirect dials the containers' addresses on the run network:
	// they route from the harness's machine when the engine is rootful and
	// local (the bridge's gateway is a host interface).
	AccessDirect = "direct"
	// AccessPublished publishes each node's Kafka and admin ports on the
	// engine host's PublishHost (127.0.0.1 by default) and has each broker
	// advertise that address and its own host port, so that Metadata sends
	// clients to an address they can reach: for rootless engines, Docker
	// Desktop and remote engines, whose container addresses do not route
	// from here.
	AccessPublished = "published"
	// AccessAuto is published unless the run network's gateway is an
	// address of this machine (then direct).
	AccessAuto = "auto"
)

// Accesses lists the values --client-access accepts.
var Accesses = []string{AccessDirect, AccessPublished, AccessAuto}

// DefaultPublishHost is where published ports are bound and dialled.
const DefaultPublishHost = "127.0.0.1"

// resolveAccess settles AccessAuto once the run network exists: direct
// when its gateway is one of this machine's addresses.
func (c *Cluster) resolveAccess() {
	if c.cfg.ClientAccess != AccessAuto {
		return
	}
	c.cfg.ClientAccess = AccessPublished
	if hostHasAddr(c.subnet.Addr().Next()) {
		c.cfg.ClientAccess = AccessDirect
	}
}

// hostHasAddr reports whether a is assigned to one of this machine's
// interfaces.
func hostHasAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if ipn, ok := ia.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(ipn.IP); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// ClientAccess is how clients reach the nodes (direct or published), as
// resolved when the cluster was created.
func (c *Cluster) ClientAccess() string { return c.cfg.ClientAccess }

func (c *Cluster) published() bool { return c.cfg.ClientAccess == AccessPublished }

// allocPorts picks two free TCP ports on the publish host for node's Kafka
// and admin listeners. The ports are probed here, so this presumes the
// engine publishes on this machine (a local engine, rootless or Docker
// Desktop); a port taken between the probe and the container's start
// fails that start with the engine's "address already in use".
func (c *Cluster) allocPorts(n *node) error {
	if !c.published() {
		return nil
	}
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", net.JoinHostPort(c.cfg.PublishHost, "0"))
		if err != nil {
			return fmt.Errorf("pick a host port for %s on %s: %w", n.name, c.cfg.PublishHost, err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	n.kafkaHostPort, n.adminHostPort = ports[0], ports[1]
	return nil
}

// advertiseArgs are the broker flags saying what clients and peers are
// told: direct, the container's address; published, the publish host and
// the node's host port for Kafka, and the container's address for the
// admin forwarding between peers.
func (c *Cluster) advertiseArgs(n *node) []string {
	if !c.published() {
		return []string{"--advertised-addr", n.addr.String()}
	}
	return []string{
		"--advertised-addr", c.cfg.PublishHost,
		"--advertised-port", strconv.Itoa(n.kafkaHostPort),
		"--advertised-admin-addr", netip.AddrPortFrom(n.addr, uint16(c.cfg.AdminPort)).String(),
	}
}

// portBindings publishes node's Kafka and admin ports (nil when direct).
func (c *Cluster) portBindings(n *node) (network.PortSet, network.PortMap, error) {
	if !c.published() {
		return nil, nil, nil
	}
	host, err := netip.ParseAddr(c.cfg.PublishHost)
	if err != nil {
		return nil, nil, fmt.Errorf("publish host %q is not an IP address: %w", c.cfg.PublishHost, err)
	}
	kp, err := network.ParsePort(strconv.Itoa(c.cfg.KafkaPort) + "/tcp")
	if err != nil {
		return nil, nil, err
	}
	ap, err := network.ParsePort(strconv.Itoa(c.cfg.AdminPort) + "/tcp")
	if err != nil {
		return nil, nil, err
	}
	if n.kafkaHostPort == 0 || n.adminHostPort == 0 {
		return nil, nil, errors.New("published access without host ports")
	}
	set := network.PortSet{kp: {}, ap: {}}
	m := network.PortMap{
		kp: {{HostIP: host, HostPort: strconv.Itoa(n.kafkaHostPort)}},
		ap: {{HostIP: host, HostPort: strconv.Itoa(n.adminHostPort)}},
	}
	return set, m, nil
}

// clientAddrPort is where the harness's clients reach node's Kafka
// listener.
func (c *Cluster) clientAddrPort(node string) (netip.AddrPort, error) {
	n, err := c.node(node)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if c.published() {
		host, err := netip.ParseAddr(c.cfg.PublishHost)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(host, uint16(n.kafkaHostPort)), nil
	}
	return netip.AddrPortFrom(n.addr, uint16(c.cfg.KafkaPort)), nil
}

// adminAddrPort is where the harness reaches node's admin listener.
func (c *Cluster) adminAddrPort(n *node) string {
	if c.published() {
		return net.JoinHostPort(c.cfg.PublishHost, strconv.Itoa(n.adminHostPort))
	}
	return netip.AddrPortFrom(n.addr, uint16(c.cfg.AdminPort)).String()
}

// clientProbe is how a client probe gets through. Direct, a TCP handshake
// with the node proves the path. Through a published port it proves
// nothing: the engine's port proxy completes the handshake itself and only
// then connects to the node, so a probe there sends a Kafka ApiVersions
// request and must read an answer (exchangeOnce): a cut shows as a
// timeout, as it does direct.
func (c *Cluster) clientProbe() dialFunc {
	if c.published() {
		return exchangeOnce
	}
	return dialOnce
}

// apiVersionsV0 is a Kafka ApiVersions v0 request frame: size 15, key 18,
// version 0, correlation id 1, client id "probe". Every broker answers it,
// whatever versions it serves.
var apiVersionsV0 = []byte{0, 0, 0, 15, 0, 18, 0, 0, 0, 0, 0, 1, 0, 5, 'p', 'r', 'o', 'b', 'e'}

// exchangeOnce connects to target, sends apiVersionsV0 and reads the
// answer's first bytes, all within timeout. A proxy that cannot reach the
// node closes the connection (an EOF, not a timeout).
func exchangeOnce(ctx context.Context, target netip.AddrPort, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(apiVersionsV0); err != nil {
		return fmt.Errorf("send ApiVersions: %w", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return fmt.Errorf("read ApiVersions answer: %w", err)
	}
	return nil
}
