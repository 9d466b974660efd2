package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// A store whose CURRENT names a manifest that is not there (a flipped digit
// in CURRENT, a removed MANIFEST), or whose CURRENT is gone, is damage: Open refuses it as corrupt
// instead of failing as if the disk were unreadable. Found by the corrupt
// nemesis (a node exited 1 after a flip in CURRENT).
func TestMissingManifestIsCorrupt(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"CURRENT names another manifest", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSpace(string(b))
			other := name[:len(name)-1] + string(rune(name[len(name)-1]^0x02))
			if err := os.WriteFile(filepath.Join(dir, "CURRENT"), []byte(other+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"CURRENT removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}},
		{"the manifest removed", func(t *testing.T, dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			if len(ms) == 0 {
				t.Fatal("precondition: no MANIFEST")
			}
			for _, m := range ms {
				if err := os.Remove(m); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := storage.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			db, err = storage.Open(dir, nil)
			if err == nil {
				db.Close()
				t.Fatal("opened a store whose manifest is missing")
			}
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("not refused as corrupt: %v", err)
			}
			t.Log(err)
		})
	}
}
