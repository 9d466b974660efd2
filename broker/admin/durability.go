package admin

// This file serves the durability faults the chaos harness injects:
// power loss (POST /admin/power-loss) and crash points
// (/admin/crash-points). doc.go lists the requests and answers.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/storage"
)

// Durability is what the power-loss and crash-point endpoints need from
// the node (*cluster.Node implements it).
type Durability interface {
	NodeID() int32
	// FaultFS reports whether the store runs on the fault-injection file
	// system (--fault-fs), without which no power loss can be injected.
	FaultFS() bool
	PowerLoss(tearSeed *int64) (storage.PowerLossReport, error)
	CrashPointStates() []cluster.CrashPointState
	ArmCrashPoint(cluster.CrashArm) (cluster.CrashPointState, error)
	DisarmCrashPoint(cluster.CrashPoint) error
}

// PowerLossAnswer is the JSON answer of POST /admin/power-loss.
type PowerLossAnswer struct {
	NodeID   int32 `json:"node_id"`
	ExitCode int   `json:"exit_code"`
	storage.PowerLossReport
	// Error is set when part of the unsynced state could not be removed
	// (the answer's status is then 500; the node exits all the same).
	Error string `json:"error,omitempty"`
}

// CrashPointsAnswer is the JSON answer of GET, POST and DELETE
// /admin/crash-points.
type CrashPointsAnswer struct {
	// FaultFS tells whether power_loss may be armed.
	FaultFS bool                      `json:"fault_fs"`
	Points  []cluster.CrashPointState `json:"points"`
}

// maxArmBody bounds a crash-point arming body.
const maxArmBody = 4 << 10

func registerDurability(mux *http.ServeMux, cfg Config, log *slog.Logger) {
	d := cfg.Durability
	exit := cfg.Exit
	if exit == nil {
		exit = os.Exit
	}
	unsupported := func(w http.ResponseWriter) bool {
		if d == nil {
			http.Error(w, "durability faults not supported by this node", http.StatusNotImplemented)
			return true
		}
		return false
	}
	mux.HandleFunc("POST /admin/power-loss", func(w http.ResponseWriter, r *http.Request) {
		if unsupported(w) {
			return
		}
		var seed *int64
		if v := r.URL.Query().Get("tear-seed"); v != "" {
			s, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				http.Error(w, fmt.Sprintf("tear-seed %q is not an integer", v), http.StatusBadRequest)
				return
			}
			seed = &s
		}
		if !d.FaultFS() {
			http.Error(w, cluster.ErrNoFaultFS.Error(), http.StatusConflict)
			return
		}
		// Read the (empty) body now: unread request bytes at exit would
		// make the kernel reset the connection and lose the answer.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxArmBody))
		id := d.NodeID()
		rep, err := d.PowerLoss(seed)
		if errors.Is(err, cluster.ErrHalted) {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		// The disk now holds only the synced state and the node has
		// logged what it dropped: answer, then exit as a power cut
		// would stop it (nothing more can be written: the store is
		// halted).
		ans := PowerLossAnswer{NodeID: id, ExitCode: cluster.ExitPowerLoss, PowerLossReport: rep}
		code := http.StatusOK
		if err != nil {
			ans.Error, code = err.Error(), http.StatusInternalServerError
		}
		w.Header().Set("Connection", "close")
		writeJSON(w, code, ans)
		if err := http.NewResponseController(w).Flush(); err != nil {
			log.Warn("flush the power-loss answer", "err", err)
		}
		exit(cluster.ExitPowerLoss)
	})
	crashPoints := func(w http.ResponseWriter) {
		writeJSON(w, http.StatusOK, CrashPointsAnswer{FaultFS: d.FaultFS(), Points: d.CrashPointStates()})
	}
	mux.HandleFunc("GET /admin/crash-points", func(w http.ResponseWriter, _ *http.Request) {
		if unsupported(w) {
			return
		}
		crashPoints(w)
	})
	mux.HandleFunc("POST /admin/crash-points", func(w http.ResponseWriter, r *http.Request) {
		if unsupported(w) {
			return
		}
		var a cluster.CrashArm
		dec := json.NewDecoder(io.LimitReader(r.Body, maxArmBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			http.Error(w, fmt.Sprintf(`body: want {"point": NAME, "count": N} or {"point": NAME, "probability": P}, optional "seed", "power_loss", "tear_seed": %v`, err), http.StatusBadRequest)
			return
		}
		_, err := d.ArmCrashPoint(a)
		switch {
		case errors.Is(err, cluster.ErrNoFaultFS):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		crashPoints(w)
	})
	mux.HandleFunc("DELETE /admin/crash-points", func(w http.ResponseWriter, r *http.Request) {
		if unsupported(w) {
			return
		}
		if err := d.DisarmCrashPoint(cluster.CrashPoint(r.URL.Query().Get("point"))); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		crashPoints(w)
	})
}
