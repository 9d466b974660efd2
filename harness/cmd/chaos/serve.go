package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func init() {
	register("serve", "serve the store's reports over HTTP for browsing", runServe)
}

// runServe implements `chaos serve [--addr 127.0.0.1:8080] [--store DIR]`:
// a plain file server over the store (reports are static files), shut down
// gracefully on SIGINT or SIGTERM.
func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	store := fs.String("store", "store", "store directory to serve")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch fs.NArg() {
	case 0:
	case 1:
		*store = fs.Arg(0)
	default:
		fmt.Fprintln(os.Stderr, "usage: chaos serve [--addr 127.0.0.1:8080] [--store DIR]")
		return exitUsage
	}
	if st, err := os.Stat(*store); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "chaos serve: %s is not a directory\n", *store)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos serve: listen: %v\n", err)
		return exitInfra
	}
	if err := serveStore(ctx, ln, *store, log); err != nil {
		fmt.Fprintf(os.Stderr, "chaos serve: %v\n", err)
		return exitInfra
	}
	return exitValid
}

// serveStore serves dir on ln until ctx is done, then lets requests in
// flight finish (up to five seconds).
func serveStore(ctx context.Context, ln net.Listener, dir string, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           noCache(http.FileServer(http.Dir(dir))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Info("serving store", "url", "http://"+ln.Addr().String()+"/", "dir", dir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// noCache makes browsers revalidate, because `chaos report` rewrites
// reports in place and a stale cached index would hide new runs.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
