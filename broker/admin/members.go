package admin

// The membership endpoints:
//
//	GET    /admin/members              the member records (a linearizable
//	                                   read of __meta; ?local=true skips the
//	                                   read and answers this node's view)
//	POST   /admin/members              add a member: {"id":4,
//	                                   "raft_addr":"host:port",
//	                                   "kafka_addr":"host:port"} and
//	                                   optionally "replaces":3
//	DELETE /admin/members/{id}         remove a member (or abort a join)
//
// Any node answers: a node that does not lead __meta forwards POST and
// DELETE to the leader's admin address (once; the forwarded request
// carries X-Chronik-Forwarded-By). POST answers once the member is a voter
// in every group (200) and DELETE once it is removed from every group
// (200); when ?timeout= (default 60s, at most 10m) passes first, 202 with
// the member's current record: the change was committed and goes on.
// Errors are JSON {"error": code, "message": text}:
//
//	400 invalid_member        malformed body, id 0, bad address
//	404 unknown_member        no such member (or a "replaces" that is not a voter)
//	409 id_in_use             the id is or was a member (ids are never reused)
//	409 change_in_progress    another member is joining or leaving
//	409 would_lose_quorum     the new voter set has no active majority
//	409 aborted               the member being added was removed meanwhile
//	410 node_removed          the answering node was removed from the cluster
//	503 unavailable           no __meta leader (yet), or it did not answer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Members is what the membership endpoints need from the node
// (*cluster.Node implements it).
type Members interface {
	Members(ctx context.Context, linearizable bool) (cluster.MembersReport, error)
	AddMember(ctx context.Context, spec cluster.MemberSpec) (cluster.Member, error)
	RemoveMember(ctx context.Context, id uint64) (cluster.Member, error)
	WaitMember(ctx context.Context, id uint64, want cluster.MemberState) (cluster.Member, error)
}

// forwardedHeader marks a request forwarded to the __meta leader, so it is
// forwarded at most once.
const forwardedHeader = "X-Chronik-Forwarded-By"

const (
	defaultMemberTimeout = 60 * time.Second
	maxMemberTimeout     = 10 * time.Minute
	maxMemberBody        = 64 << 10
)

// apiError is the JSON body of an error answer.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Leader is the __meta leader, when the error is about leadership.
	Leader uint64 `json:"leader,omitempty"`
}

// memberErrors maps each membership error to its HTTP status and code.
var memberErrors = []struct {
	err    error
	status int
	code   string
}{
	{cluster.ErrInvalidMember, http.StatusBadRequest, "invalid_member"},
	{cluster.ErrUnknownMember, http.StatusNotFound, "unknown_member"},
	{cluster.ErrMemberExists, http.StatusConflict, "id_in_use"},
	{cluster.ErrChangeInProgress, http.StatusConflict, "change_in_progress"},
	{cluster.ErrWouldLoseQuorum, http.StatusConflict, "would_lose_quorum"},
	{cluster.ErrChangeAborted, http.StatusConflict, "aborted"},
	{cluster.ErrRemoved, http.StatusGone, "node_removed"},
}

// memberError maps a membership error to its HTTP status and code; one
// this table does not know is "unavailable" (503), with the __meta leader
// when the error names it.
func memberError(err error) (int, apiError) {
	e := apiError{Error: "unavailable", Message: err.Error()}
	for _, m := range memberErrors {
		if errors.Is(err, m.err) {
			e.Error = m.code
			return m.status, e
		}
	}
	var nl *cluster.NotMetaLeaderError
	if errors.As(err, &nl) {
		e.Leader = nl.Leader
	}
	return http.StatusServiceUnavailable, e
}

func writeMemberError(w http.ResponseWriter, err error) {
	code, e := memberError(err)
	writeJSON(w, code, e)
}

// memberTimeout parses ?timeout= (a Go duration).
func memberTimeout(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		return defaultMemberTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > maxMemberTimeout {
		return 0, fmt.Errorf("%w: timeout %q: want a duration in (0, %v]", cluster.ErrInvalidMember, v, maxMemberTimeout)
	}
	return d, nil
}

func registerMembers(mux *http.ServeMux, cfg Config) {
	ms := cfg.Members
	unsupported := func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "membership changes not supported by this node", http.StatusNotImplemented)
	}
	if ms == nil {
		mux.HandleFunc("GET /admin/members", unsupported)
		mux.HandleFunc("POST /admin/members", unsupported)
		mux.HandleFunc("DELETE /admin/members/{id}", unsupported)
		return
	}
	fw := &forwarder{client: &http.Client{}}
	mux.HandleFunc("GET /admin/members", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		rep, err := ms.Members(ctx, r.URL.Query().Get("local") != "true")
		if err != nil {
			writeMemberError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("POST /admin/members", func(w http.ResponseWriter, r *http.Request) {
		timeout, err := memberTimeout(r)
		if err != nil {
			writeMemberError(w, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxMemberBody))
		if err != nil {
			writeMemberError(w, fmt.Errorf("%w: read body: %w", cluster.ErrInvalidMember, err))
			return
		}
		var spec cluster.MemberSpec
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeMemberError(w, fmt.Errorf("%w: body: %w", cluster.ErrInvalidMember, err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		mb, err := ms.AddMember(ctx, spec)
		if err != nil {
			if fw.forward(w, r, body, timeout, err) {
				return
			}
			writeMemberError(w, err)
			return
		}
		cfg.Logger.Info("membership change requested: add", "member", spec.ID, "raft_addr", spec.RaftAddr, "replaces", spec.Replaces, "remote", r.RemoteAddr)
		finishMember(ctx, w, ms, mb, cluster.MemberVoter)
	})
	mux.HandleFunc("DELETE /admin/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		timeout, err := memberTimeout(r)
		if err != nil {
			writeMemberError(w, err)
			return
		}
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || id == 0 {
			writeMemberError(w, fmt.Errorf("%w: member id %q: want an integer >= 1", cluster.ErrInvalidMember, r.PathValue("id")))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		mb, err := ms.RemoveMember(ctx, id)
		if err != nil {
			if fw.forward(w, r, nil, timeout, err) {
				return
			}
			writeMemberError(w, err)
			return
		}
		cfg.Logger.Info("membership change requested: remove", "member", id, "remote", r.RemoteAddr)
		finishMember(ctx, w, ms, mb, cluster.MemberRemoved)
	})
}

// finishMember waits for the change to complete: 200 when it did, 202
// with the current record when the timeout passed first.
func finishMember(ctx context.Context, w http.ResponseWriter, ms Members, mb cluster.Member, want cluster.MemberState) {
	got, err := ms.WaitMember(ctx, mb.ID, want)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, got)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		writeJSON(w, http.StatusAccepted, got)
	default:
		writeMemberError(w, err)
	}
}

// forwarder sends a membership request that reached a follower to the
// __meta leader's admin API.
type forwarder struct {
	client *http.Client
}

// forward proxies r to the leader named by err (a *NotMetaLeaderError) and
// reports whether it wrote the answer. A request that was forwarded
// already is not forwarded again (the leader moved meanwhile: 503).
func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, body []byte, timeout time.Duration, err error) bool {
	var nl *cluster.NotMetaLeaderError
	if !errors.As(err, &nl) || nl.AdminAddr == "" || r.Header.Get(forwardedHeader) != "" {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout+5*time.Second)
	defer cancel()
	url := "http://" + nl.AdminAddr + r.URL.RequestURI()
	req, rerr := http.NewRequestWithContext(ctx, r.Method, url, bytes.NewReader(body))
	if rerr != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(forwardedHeader, r.Host)
	resp, rerr := f.client.Do(req)
	if rerr != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "unavailable", Leader: nl.Leader,
			Message: fmt.Sprintf("forward to the __meta leader %d at %s: %v", nl.Leader, nl.AdminAddr, rerr)})
		return true
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}
