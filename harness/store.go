package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Store file names (contract: DESIGN.md, store layout).
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	LogFile     = "chaos.log"
	LatestLink  = "latest"
)

// newRunDir creates store/<test-name>/<YYYYMMDDTHHMMSS>/ for a run started
// at t. Two runs in the same second (--test-count) get -2, -3, ... suffixes.
func newRunDir(store, name string, t time.Time) (string, error) {
	base := filepath.Join(store, name, t.UTC().Format("20060102T150405"))
	dir := base
	for i := 2; i < 1000; i++ {
		err := os.MkdirAll(filepath.Dir(dir), 0o755)
		if err == nil {
			err = os.Mkdir(dir, 0o755)
		}
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", fmt.Errorf("create run dir: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	return "", fmt.Errorf("create run dir %s: too many runs in one second", base)
}

// pointLatest makes store/latest a relative symlink to runDir, replacing
// the old link atomically (a reader never finds no link).
func pointLatest(store, runDir string) error {
	rel, err := filepath.Rel(store, runDir)
	if err != nil {
		return fmt.Errorf("point latest: %w", err)
	}
	tmp := filepath.Join(store, fmt.Sprintf(".latest-%d", os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("point latest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(store, LatestLink)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("point latest: %w", err)
	}
	return nil
}

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
