// Package docker deploys a chronik-server cluster in a local Docker engine
// and exposes it to the nemeses as a nemesis.Cluster.
//
// The engine is the only infrastructure the harness needs: it starts empty
// (no registry, no base image), so the broker image is built here from a
// static Go binary in a FROM scratch context, tagged by the binary's content
// hash and reused while the binary is unchanged.
//
// Usage:
//
//	eng, err := docker.Connect(ctx)           // ErrNoEngine when unreachable
//	tag, err := docker.BuildImage(ctx, eng, docker.ImageSpec{...}, log)
//	c, err := docker.NewCluster(ctx, eng, docker.ClusterConfig{...}, log)
//	defer c.Close(context.Background())      // removes containers and network
//	err = c.Start(ctx, "n1")
//
// Caller contract:
//   - Every object this package creates carries the label chronik-chaos=1 and
//     chronik-chaos.run=<run id>. Clean and Cluster.Close only ever remove
//     objects carrying those labels; nothing else on the engine is touched.
//   - Cluster.Close must run on every exit path (normal end, error, Ctrl-C),
//     with a context that is not the cancelled run context.
//   - Node names are "n1".."nN"; node i has Raft node id i and the fixed
//     address <subnet>.(10+i). AddNode creates node N+1, N+2, ... (raft-cluster
//     --join) and RemoveNode removes one with its store; ids are never
//     reused, and Nodes lists the current nodes only.
//
// Invariants:
//   - A node's log is appended to <LogDir>/nK/chronik-server.log for the
//     whole run, across kills and restarts of the same container.
//   - A container that exits while the harness did not ask for it (Kill,
//     Stop) is recorded as an unexpected exit (Cluster.Exits), which the
//     harness's liveness checker turns into an error.
//
// The image has no shell (FROM scratch): Exec is implemented for completeness
// and works with images that have the named program. Network faults and
// probes are NetOps (netop.go) run in a node's network namespace over one of
// two fault paths (netpath.go, ClusterConfig.FaultPath): from the host
// through /proc/<pid>/ns/net (root on the engine's machine), or by the
// node's fault-agent container, an exec of `chaos agent net` in a FROM
// scratch image sharing the node's namespace (agent.go). Clients reach the
// nodes directly or through ports published on 127.0.0.1
// (ClusterConfig.ClientAccess, access.go).
package docker
