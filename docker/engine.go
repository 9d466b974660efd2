package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/client"
)

// ErrNoEngine reports that no Docker engine answered. The chaos CLI maps it
// to exit code 4 (infrastructure error).
var ErrNoEngine = errors.New("docker engine not reachable: start dockerd (systemctl start docker, or `containerd & dockerd &`) or set DOCKER_HOST")

// Engine is a connection to a Docker engine whose API version has been
// negotiated (the machines run API 1.41; the client speaks up to 1.56).
type Engine struct {
	cli  *client.Client
	host string
	api  string
}

// Connect builds a client from the environment (DOCKER_HOST and friends),
// pings the engine and negotiates the API version. It returns an error
// wrapping ErrNoEngine when the engine does not answer within 5 seconds.
func Connect(ctx context.Context) (*Engine, error) {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connect docker: %w: %w", ErrNoEngine, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ping, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("connect docker at %s: %w: %w", cli.DaemonHost(), ErrNoEngine, err)
	}
	return &Engine{cli: cli, host: cli.DaemonHost(), api: ping.APIVersion}, nil
}

// Client exposes the underlying API client for operations this package does
// not wrap (the nemesis helper's network faults use Engine only through
// Cluster).
func (e *Engine) Client() *client.Client { return e.cli }

// Host is the engine address the client talks to.
func (e *Engine) Host() string { return e.host }

// APIVersion is the API version the engine reported.
func (e *Engine) APIVersion() string { return e.api }

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }
