package harness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/chronik-chaos/chronik/docker"
)

// Placement says how the harness reaches the nodes' network namespaces
// (FaultPath: docker.FaultPathHost, FaultPathAgent or FaultPathAuto) and
// their listeners (ClientAccess: docker.AccessDirect, AccessPublished or
// AccessAuto). The requested values are flags and stay as asked in
// test.json, so a replay on another machine resolves auto anew; the *Used
// fields record what this run resolved them to.
type Placement struct {
	FaultPath        string `json:"fault_path,omitempty"`
	FaultPathUsed    string `json:"fault_path_used,omitempty"`
	ClientAccess     string `json:"client_access,omitempty"`
	ClientAccessUsed string `json:"client_access_used,omitempty"`
}

func defaultPlacement() Placement {
	return Placement{FaultPath: docker.FaultPathAuto, ClientAccess: docker.AccessAuto}
}

// placementFlags defines --fault-path and --client-access on fs.
func placementFlags(fs *flag.FlagSet, p *Placement) {
	fs.StringVar(&p.FaultPath, "fault-path", p.FaultPath, "how network faults and probes reach a node's namespace: host (enter /proc/<pid>/ns/net, needs root on the engine's host), agent (a fault-agent container per node, over the Docker API) or auto (agent unless root with a local unix-socket engine)")
	fs.StringVar(&p.ClientAccess, "client-access", p.ClientAccess, "how clients reach the nodes: direct (container addresses), published (ports published on the engine host's loopback, brokers advertise them) or auto (published unless the engine is a local unix socket whose container addresses route from here)")
}

func (p Placement) validate() error {
	if !slices.Contains(docker.FaultPaths, p.FaultPath) {
		return fmt.Errorf("%w: --fault-path must be one of %s, got %q", ErrUsage, strings.Join(docker.FaultPaths, ", "), p.FaultPath)
	}
	if !slices.Contains(docker.Accesses, p.ClientAccess) {
		return fmt.Errorf("%w: --client-access must be one of %s, got %q", ErrUsage, strings.Join(docker.Accesses, ", "), p.ClientAccess)
	}
	return nil
}

// placeCluster resolves the run's fault path and client access into the
// cluster's configuration, building the fault-agent image (the running
// chaos binary when it is static, else from source) when the agent path
// is used.
func (r *runner) placeCluster(ctx context.Context, cc *docker.ClusterConfig) error {
	path, err := docker.ResolveFaultPath(r.cfg.FaultPath, r.eng.Host())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	r.cfg.FaultPathUsed = path
	cc.FaultPath = path
	cc.ClientAccess = r.cfg.ClientAccess
	if r.cfg.ClientAccess == docker.AccessAuto && !docker.LocalEngine(r.eng.Host()) {
		// A remote engine's container addresses never route from here.
		cc.ClientAccess = docker.AccessPublished
	}
	if path == docker.FaultPathAgent {
		exe, _ := os.Executable()
		tag, err := docker.BuildImage(ctx, r.eng, docker.AgentImage(exe), r.log)
		if err != nil {
			return infra("fault-agent image: %w", err)
		}
		cc.AgentImage = tag
	}
	r.log.Info("placement", "fault_path", path, "requested_fault_path", r.cfg.FaultPath, "client_access", cc.ClientAccess, "engine", r.eng.Host())
	return nil
}
