package docker

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// withNetNSConn opens an nftables connection into node's namespace from
// the test process (root), for tests that read or add tables beside the
// fault paths.
func (c *Cluster) withNetNSConn(ctx context.Context, node string, do func(conn *nftables.Conn) error) error {
	pid, err := c.PID(ctx, node)
	if err != nil {
		return err
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return err
	}
	return do(conn)
}
