package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// ImageSpec says which Go package to build into an image and where.
type ImageSpec struct {
	// ModuleDir is the root of the Go module (the directory holding go.mod).
	// Empty means: search upwards from the working directory.
	ModuleDir string
	// Package is the main package to build, relative to ModuleDir.
	Package string
	// Repo is the image repository; the tag is the binary's content hash.
	Repo string
	// Binary is the program's name inside the image (/Binary).
	Binary string
	// Prebuilt, if set, is a static Linux binary to put in the image
	// instead of building Package (e.g. bin/chronik-server that `make`
	// just built), which saves the second go build.
	Prebuilt string
}

// BrokerImage is the spec of the chronik-server image.
func BrokerImage() ImageSpec {
	return ImageSpec{Package: "./broker/cmd/chronik-server", Repo: "chronik-server", Binary: "chronik-server"}
}

// BuildImage compiles spec.Package as a static binary and builds an image
// FROM scratch holding it, tagged <repo>:<first 12 hex digits of the binary's
// sha256>. An existing image with that tag is reused, so an unchanged broker
// costs one go build from a warm cache and no image build. Nothing is pulled.
func BuildImage(ctx context.Context, eng *Engine, spec ImageSpec, log *slog.Logger) (string, error) {
	dir := spec.ModuleDir
	if dir == "" && spec.Prebuilt == "" {
		d, err := FindModuleRoot()
		if err != nil {
			return "", fmt.Errorf("build image: %w", err)
		}
		dir = d
	}
	start := time.Now()
	bin := spec.Prebuilt
	if bin == "" {
		tmp, err := os.MkdirTemp("", "chronik-image-")
		if err != nil {
			return "", fmt.Errorf("build image: %w", err)
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, spec.Binary)
		// -trimpath and -buildvcs=false keep the binary, and so the tag, a
		// pure function of the source: commits that do not touch the
		// broker reuse the image.
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-o", bin, spec.Package)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build image: go build %s: %w\n%s", spec.Package, err, out)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	if err := checkStaticELF(data); err != nil {
		return "", fmt.Errorf("build image from %s: %w", bin, err)
	}
	sum := sha256.Sum256(data)
	tag := spec.Repo + ":" + hex.EncodeToString(sum[:])[:12]
	log.Debug("binary built", "package", spec.Package, "took", time.Since(start).Round(time.Millisecond))

	if _, err := eng.cli.ImageInspect(ctx, tag); err == nil {
		log.Info("image reused", "tag", tag)
		return tag, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("build image: inspect %s: %w", tag, err)
	}

	bctx, err := buildContext(spec.Binary, data)
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	// The classic builder (BuilderV1) is what the 20.10 engine runs without
	// a BuildKit daemon; FROM scratch needs no base image.
	res, err := eng.cli.ImageBuild(ctx, bctx, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelChaos: "1"},
		Version:     build.BuilderV1,
		Dockerfile:  "Dockerfile",
	})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	defer res.Body.Close()
	if err := readBuildStream(res.Body); err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	if _, err := eng.cli.ImageInspect(ctx, tag); err != nil {
		return "", fmt.Errorf("build image %s: image missing after build: %w", tag, err)
	}
	log.Info("image built", "tag", tag, "took", time.Since(start).Round(time.Millisecond))
	pruneImages(ctx, eng, spec.Repo, tag, log)
	return tag, nil
}

// imageKeep is how long an older image of the same repository is kept: a
// concurrent run may have built it a moment ago and not yet created its
// containers.
const imageKeep = time.Hour

// pruneImages removes older labelled images of repo, so that a broker under
// development does not leave one 28 MB image per edit. Only images older
// than imageKeep go, and never by force: an image a container still uses
// stays.
func pruneImages(ctx context.Context, eng *Engine, repo, keep string, log *slog.Logger) {
	list, err := eng.cli.ImageList(ctx, client.ImageListOptions{Filters: runFilter("")})
	if err != nil {
		return
	}
	for _, im := range list.Items {
		if im.Labels[LabelChaos] != "1" || time.Since(time.Unix(im.Created, 0)) < imageKeep {
			continue
		}
		for _, ref := range im.RepoTags {
			if ref == keep || !strings.HasPrefix(ref, repo+":") {
				continue
			}
			if _, err := eng.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err == nil {
				log.Debug("old image removed", "tag", ref)
			}
		}
	}
}

// checkStaticELF refuses binaries a scratch image cannot run: not a Linux
// ELF executable, or dynamically linked (needing an interpreter).
func checkStaticELF(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (build with CGO_ENABLED=0)")
		}
	}
	return nil
}

// buildContext is the tar stream the engine builds from: the Dockerfile and
// the binary. WORKDIR creates /data, which a scratch image lacks and the
// broker's --data-dir points at.
func buildContext(name string, bin []byte) (io.Reader, error) {
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nWORKDIR /data\nENTRYPOINT [\"/%s\"]\n", name, name, name)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {name, 0o755, bin}}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write build context: %w", err)
	}
	return &buf, nil
}

// readBuildStream drains the builder's JSON message stream; the build's
// outcome is only known from an error message inside it.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var tail []string
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read build output: %w", err)
		}
		if s := strings.TrimSpace(msg.Stream); s != "" {
			tail = append(tail, s)
			if len(tail) > 10 {
				tail = tail[1:]
			}
		}
		if msg.Error != "" {
			return fmt.Errorf("%s\n%s", msg.Error, strings.Join(tail, "\n"))
		}
	}
}

// FindModuleRoot walks up from the working directory to the directory
// holding go.mod.
func FindModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("find module root: no go.mod above the working directory")
}
