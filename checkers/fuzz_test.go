package checkers_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
)

// FuzzCheck feeds arbitrary bytes through the whole pipeline: whatever the
// input, Check must return a result or an error, never panic.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jsonl")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := checkers.CheckReader(ctx, bytes.NewReader(b), checkers.Options{TimeLimit: 5 * time.Second})
		if err == nil && r == nil {
			t.Fatal("nil result without error")
		}
	})
}
