package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the admin API reads from the node.
type Source interface {
	// Ready reports whether the node is registered and knows a __meta
	// leader.
	Ready() bool
	// Status is the /status document.
	Status() cluster.Status
}

// PeerDelayer sets the artificial delay of the peer transport. SetPeerDelay
// fails when the transport cannot delay (for example an in-memory test
// transport).
type PeerDelayer interface {
	SetPeerDelay(time.Duration) error
	PeerDelay() time.Duration
}

// MaxPeerDelay bounds /admin/peer-delay: a larger delay would look like a
// partition, which has its own nemesis.
const MaxPeerDelay = 60 * time.Second

// Config configures the admin server.
type Config struct {
	Source Source
	// Delayer may be nil: /admin/peer-delay then answers 501.
	Delayer PeerDelayer
	// Gatherer supplies /metrics; nil serves an empty page.
	Gatherer prometheus.Gatherer
	// Members may be nil: the membership endpoints (members.go) then
	// answer 501.
	Members Members
	Logger  *slog.Logger
	// Durability may be nil: /admin/power-loss and /admin/crash-points
	// then answer 501.
	Durability Durability
	// Exit ends the process after a power loss is answered (default
	// os.Exit; tests replace it).
	Exit func(code int)
}

// Handler returns the admin API's HTTP handler.
func Handler(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gatherer := cfg.Gatherer
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !cfg.Source.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, cfg.Source.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	peerDelay := func(w http.ResponseWriter, r *http.Request) {
		if cfg.Delayer == nil {
			http.Error(w, "peer delay not supported by this node", http.StatusNotImplemented)
			return
		}
		if v := r.URL.Query().Get("ms"); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			d := time.Duration(ms) * time.Millisecond
			if err != nil || ms < 0 || d > MaxPeerDelay {
				http.Error(w, fmt.Sprintf("ms must be an integer in 0..%d", MaxPeerDelay.Milliseconds()), http.StatusBadRequest)
				return
			}
			if err := cfg.Delayer.SetPeerDelay(d); err != nil {
				http.Error(w, fmt.Sprintf("set peer delay: %v", err), http.StatusConflict)
				return
			}
			log.Warn("peer delay set through admin API", "delay", d, "remote", r.RemoteAddr)
		} else if r.Method == http.MethodPost {
			http.Error(w, "POST needs ?ms=N", http.StatusBadRequest)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"ms": cfg.Delayer.PeerDelay().Milliseconds()})
	}
	mux.HandleFunc("GET /admin/peer-delay", peerDelay)
	mux.HandleFunc("POST /admin/peer-delay", peerDelay)
	cfg.Logger = log
	registerMembers(mux, cfg)
	registerDurability(mux, cfg, log)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Serve serves the admin API on ln until ctx is done, then shuts down
// gracefully (bounded to two seconds).
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	srv := &http.Server{Handler: Handler(cfg), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve admin http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve admin http: %w", err)
	}
	return nil
}
