package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/moby/moby/client"
)

// CleanResult counts what Clean removed.
type CleanResult struct {
	Containers, Networks, Images int
}

// CleanOptions narrows what Clean removes.
type CleanOptions struct {
	// RunID limits clean-up to one run's objects; empty means every run.
	RunID string
	// Images also removes the labelled broker images (shared by all runs,
	// rebuilt in about a second).
	Images bool
}

// Clean removes what earlier runs left behind: every container and network
// labelled chronik-chaos=1 (of one run or of all), and the broker images too
// when asked. Objects without the label are never touched.
func Clean(ctx context.Context, eng *Engine, opts CleanOptions, log *slog.Logger) (CleanResult, error) {
	var res CleanResult
	n, m, err := removeLabelled(ctx, eng, opts.RunID, log)
	res.Containers, res.Networks = n, m
	if err != nil {
		return res, err
	}
	if opts.Images {
		list, err := eng.cli.ImageList(ctx, client.ImageListOptions{Filters: runFilter("")})
		if err != nil {
			return res, fmt.Errorf("clean: list images: %w", err)
		}
		for _, im := range list.Items {
			if im.Labels[LabelChaos] != "1" {
				continue
			}
			if _, err := eng.cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
				return res, fmt.Errorf("clean: remove image %s: %w", im.ID, err)
			}
			res.Images++
		}
	}
	return res, nil
}

// removeRun removes one run's containers and network.
func removeRun(ctx context.Context, eng *Engine, runID string, log *slog.Logger) error {
	if runID == "" {
		return errors.New("remove run: empty run id")
	}
	_, _, err := removeLabelled(ctx, eng, runID, log)
	return err
}

// removeLabelled force-removes the labelled containers, then the labelled
// networks (a network cannot go while a container is attached), of one run
// or of all runs. Each object's labels are checked again before removal, so
// a filter mistake can never reach an unlabelled object.
func removeLabelled(ctx context.Context, eng *Engine, runID string, log *slog.Logger) (int, int, error) {
	var errs []error
	f := runFilter(runID)
	cs, err := eng.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, 0, fmt.Errorf("list containers: %w", err)
	}
	nc := 0
	for _, c := range cs.Items {
		if !labelled(c.Labels, runID) {
			continue
		}
		if _, err := eng.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
			continue
		}
		nc++
	}
	ns, err := eng.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nc, 0, errors.Join(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	nn := 0
	for _, n := range ns.Items {
		if !labelled(n.Labels, runID) {
			continue
		}
		if _, err := eng.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		nn++
	}
	if nc+nn > 0 {
		log.Debug("removed labelled objects", "run", runID, "containers", nc, "networks", nn)
	}
	return nc, nn, errors.Join(errs...)
}

func labelled(labels map[string]string, runID string) bool {
	if labels[LabelChaos] != "1" {
		return false
	}
	return runID == "" || labels[LabelRun] == runID
}
