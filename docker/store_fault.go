package docker

// This file is the docker side of the durability faults
// (nemesis.StoreCluster): exits a fault expects, admin requests with a
// body, and damage to a stopped node's data directory.

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/moby/moby/client"
)

// dataDir is the broker's --data-dir inside every container.
const dataDir = "/data"

var _ nemesis.StoreCluster = (*Cluster)(nil)

// ExpectExit declares that node's broker will exit on its own with one of
// codes: checkExit then does not report such an exit (any other code it
// still does). No codes clears the declaration.
func (c *Cluster) ExpectExit(name string, codes ...int) {
	n, err := c.node(name)
	if err != nil {
		return
	}
	n.setExpectCodes(codes)
}

// StartExpecting starts node with an exit of one of codes expected from
// its first instant (Start alone clears every expectation).
func (c *Cluster) StartExpecting(ctx context.Context, name string, codes ...int) error {
	return c.start(ctx, name, codes)
}

// ExitCode is the exit code of node's last exit, as the engine reports it.
func (c *Cluster) ExitCode(ctx context.Context, name string) (int, error) {
	info, err := c.Inspect(ctx, name)
	if err != nil {
		return -1, err
	}
	if info.State == nemesis.Running || info.State == nemesis.Paused {
		return -1, fmt.Errorf("exit code of %s: node is %s", name, info.State)
	}
	return info.ExitCode, nil
}

// CorruptStore damages one file of a stopped node's data directory. It
// reads the directory through the engine's archive API (GET
// /containers/{id}/archive), lets nemesis.PlanCorruption choose the file
// and the damage, and writes a flipped or truncated file back the same way
// (PUT replaces it). The archive API cannot remove a file, so a removal
// deletes it from the container's writable layer on the host (the
// engine's UpperDir: the data directory is created at run time, so every
// file of it lives there); where that layer is out of reach (a remote or
// rootless engine) the file is truncated to zero bytes instead, and Note
// says so.
func (c *Cluster) CorruptStore(ctx context.Context, name string, cr nemesis.Corruption) (nemesis.Corrupted, error) {
	n, err := c.node(name)
	if err != nil {
		return nemesis.Corrupted{}, fmt.Errorf("corrupt: %w", err)
	}
	if st, err := c.State(ctx, name); err != nil || st != nemesis.Exited {
		return nemesis.Corrupted{}, fmt.Errorf("corrupt %s: node must be stopped (state %s, %v)", name, st, err)
	}
	files, contents, err := c.readDataDir(ctx, n.cid)
	if err != nil {
		return nemesis.Corrupted{}, fmt.Errorf("corrupt %s: %w", name, err)
	}
	plan, err := nemesis.PlanCorruption(cr, files)
	if err != nil {
		return plan, fmt.Errorf("corrupt %s: %w", name, err)
	}
	if plan.SizeAfter < 0 {
		if err := c.removeStored(ctx, n.cid, plan.File); err == nil {
			return plan, nil
		} else {
			plan.SizeAfter = 0
			plan.Note = fmt.Sprintf("the container's layer is out of reach (%v): truncated to 0 bytes instead of removed", err)
		}
	}
	data, err := plan.Apply(contents[plan.File])
	if err != nil {
		return plan, err
	}
	if err := c.writeStored(ctx, n.cid, plan.File, data); err != nil {
		return plan, fmt.Errorf("corrupt %s: %w", name, err)
	}
	return plan, nil
}

// readDataDir lists the regular files of the data directory, with their
// contents, names relative to it.
func (c *Cluster) readDataDir(ctx context.Context, cid string) ([]nemesis.StoredFile, map[string][]byte, error) {
	res, err := c.eng.cli.CopyFromContainer(ctx, cid, client.CopyFromContainerOptions{SourcePath: dataDir})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", dataDir, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	var files []nemesis.StoredFile
	contents := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s archive: %w", dataDir, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		// Entries are named after the directory's base: data/000002.log.
		rel, ok := strings.CutPrefix(h.Name, path.Base(dataDir)+"/")
		if !ok {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s from the archive: %w", h.Name, err)
		}
		files = append(files, nemesis.StoredFile{Name: rel, Size: int64(len(b))})
		contents[rel] = b
	}
	return files, contents, nil
}

// writeStored replaces one file of the data directory.
func (c *Cluster) writeStored(ctx context.Context, cid, rel string, data []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	_, err := c.eng.cli.CopyToContainer(ctx, cid, client.CopyToContainerOptions{DestinationPath: dataDir, Content: &buf})
	if err != nil {
		return fmt.Errorf("write %s into %s: %w", rel, dataDir, err)
	}
	return nil
}

// removeStored deletes one file of the data directory from the
// container's writable layer on the host.
func (c *Cluster) removeStored(ctx context.Context, cid, rel string) error {
	res, err := c.eng.cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	gd := res.Container.GraphDriver
	if gd == nil || gd.Data["UpperDir"] == "" {
		return errors.New("the engine reports no UpperDir")
	}
	p := filepath.Join(gd.Data["UpperDir"], dataDir, filepath.FromSlash(rel))
	if !strings.HasPrefix(p, filepath.Clean(gd.Data["UpperDir"])+string(filepath.Separator)) {
		return fmt.Errorf("%s is outside the layer", rel)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove from the layer: %w", err)
	}
	return nil
}
