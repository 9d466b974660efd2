package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>runs</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStore(ctx, ln, dir, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	tests := []struct {
		name, path string
		code       int
		body       string
	}{
		{name: "index", path: "/", code: http.StatusOK, body: "<p>runs</p>"},
		{name: "missing", path: "/nope.html", code: http.StatusNotFound},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get("http://" + ln.Addr().String() + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if !strings.Contains(string(b), tc.body) {
				t.Fatalf("body %q lacks %q", b, tc.body)
			}
			// Errors drop caching headers (net/http), so only check successes.
			if tc.code == http.StatusOK && resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", resp.Header.Get("Cache-Control"))
			}
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serveStore after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serveStore did not shut down")
	}
}
