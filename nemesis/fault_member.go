package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// MemberCluster is what the member family needs beyond Cluster: nodes that
// come and go. The docker package implements it.
type MemberCluster interface {
	Cluster
	// AddNode creates, without starting it, a node with the next unused
	// id, started with raft-cluster --join and an empty store, and
	// returns its name ("nK" for id K).
	AddNode(ctx context.Context) (string, error)
	// RemoveNode kills node and removes its container and store; Nodes
	// no longer lists it.
	RemoveNode(ctx context.Context, node string) error
	// RaftAddr and KafkaAddr are node's peer and Kafka addresses, as the
	// other nodes and clients reach them.
	RaftAddr(node string) string
	KafkaAddr(node string) string
	// AdminBody is Admin with a JSON request body.
	AdminBody(ctx context.Context, node, method, path string, body []byte) (int, []byte, error)
}

// Member change kinds, the "op" of a member action's value.
const (
	MemberAdd     = "add"
	MemberRemove  = "remove"
	MemberReplace = "replace"
)

// Membership bounds: the member family never shrinks the cluster below
// minVoters voters (a three-voter group tolerates one fault) and never
// grows it more than maxExtraVoters beyond its initial size.
const (
	minVoters      = 3
	maxExtraVoters = 2
)

// DefaultJoinDelay is how long the member family waits between recording
// a new member and starting its node: etcd's order (member add, then start
// the member), as an operator provisions the machine after the change. A
// new member must not count in any quorum before it caught up (Raft
// thesis §4.2.1), so this delay must cost no availability.
const DefaultJoinDelay = 8 * time.Second

// memberFault changes the cluster's membership, one change per action, in
// the manner of etcd's memberReplace failpoint: add a node (the next id,
// an empty store), remove one (any voter, the leader included), or replace
// one (a new node under a new id takes the place of a voter in one joint
// change; the old node's container and store are then removed). Each
// change is verified on every live node's /status and recorded as one
// instant action whose window spans the change. The family is instant:
// nothing is "in effect" between actions, the cluster simply has other
// members.
type memberFault struct {
	// initial is the number of voters at the first action.
	initial int
}

func newMemberFault() fault { return &memberFault{} }

func (*memberFault) family() history.NemesisFamily { return history.NemesisMember }
func (*memberFault) active() bool                  { return false }

func (*memberFault) stop(context.Context, *Scheduler, Recorder) error { return nil }

func (*memberFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) {
	return nil, nil
}

// heal waits, once every node is back, for a change that did not finish
// in its action to finish, and verifies the voter sets agree.
func (m *memberFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	if !s.configured(history.NemesisMember.Name) {
		return nil
	}
	mc, ok := s.c.(MemberCluster)
	if !ok {
		return nil
	}
	answering := s.answering(ctx)
	if len(answering) == 0 {
		return nil
	}
	return action(ctx, rec, history.NemesisMember.Start, Value{"op": "settle", "final": true, "nodes": []string{}},
		func(ctx context.Context) (Value, error) {
			ms, err := waitSettled(ctx, mc, s.answering(ctx))
			if errors.Is(err, ErrUnverified) {
				// Every fault is healed and the change still has not
				// ended: the broker's liveness failure, which the
				// membership checker reports; not the harness's.
				return Value{"unsettled": err.Error()}, nil
			}
			if err != nil {
				return nil, err
			}
			v := Value{}
			// A change left unfinished by its action ended meanwhile: a
			// node removed since still has its container and store.
			var wiped []string
			for _, n := range s.c.Nodes() {
				if slices.ContainsFunc(ms, func(r memberRecord) bool { return r.ID == NodeID(n) && r.State == "removed" }) {
					if err := mc.RemoveNode(ctx, n); err != nil {
						return v, err
					}
					wiped = append(wiped, n)
				}
			}
			if len(wiped) > 0 {
				v["wiped"] = wiped
			}
			vv, err := verifyVoters(ctx, s, ms.voters())
			v["voters"], v["status"] = ms.voters(), vv
			if errors.Is(err, ErrUnverified) {
				// The change ended in __meta, yet a node that is up
				// and reachable never shows it: the same liveness
				// failure of the broker, not the harness's.
				v["unsettled"] = err.Error()
				return v, nil
			}
			return v, err
		})
}

func (m *memberFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisMember.Start
	mc, ok := s.c.(MemberCluster)
	if !ok {
		return errors.New("member: this cluster cannot add or remove nodes")
	}
	avail := s.available(ctx)
	if len(avail) == 0 {
		skipped(rec, f, Value{}, "no running node that is not killed or paused")
		return nil
	}
	ms, err := getMembers(ctx, mc, avail)
	if err != nil {
		skipped(rec, f, Value{}, "membership unknown: "+err.Error())
		return nil
	}
	if p := ms.inProgress(); p != "" {
		skipped(rec, f, Value{}, "a change is in progress: "+p)
		return nil
	}
	voters := ms.voters()
	if m.initial == 0 {
		m.initial = len(voters)
	}
	var ops []string
	if len(voters) < m.initial+maxExtraVoters {
		ops = append(ops, MemberAdd)
	}
	if len(voters) > minVoters {
		ops = append(ops, MemberRemove)
	}
	ops = append(ops, MemberReplace)
	op := pickOne(s.pick, ops)
	v := Value{"op": op, "voters_before": voters}
	if op == MemberAdd {
		return m.add(ctx, s, mc, rec, v, voters, "")
	}
	// The target is any voter, the leader included half of the time.
	var target string
	cands := slices.DeleteFunc(slices.Clone(avail), func(n string) bool { return !slices.Contains(voters, NodeID(n)) })
	if len(cands) == 0 {
		skipped(rec, f, v, "no available voter to "+op)
		return nil
	}
	if s.pick.IntN(2) == 0 {
		v["target"] = TargetLeader
		if l := s.aimAtLeader(ctx, v); slices.Contains(cands, l) {
			target = l
		}
	} else {
		v["target"] = TargetOne
	}
	if target == "" {
		target = pickOne(s.pick, cands)
	}
	if op == MemberReplace {
		return m.add(ctx, s, mc, rec, v, voters, target)
	}
	return m.remove(ctx, s, mc, rec, v, voters, target)
}

// add adds a new node, replacing the voter replaces unless it is "".
func (m *memberFault) add(ctx context.Context, s *Scheduler, mc MemberCluster, rec Recorder, v Value, voters []uint64, replaces string) error {
	name, err := mc.AddNode(ctx)
	if err != nil {
		return fmt.Errorf("member %s: %w", v["op"], err)
	}
	v["node"] = name
	v["id"] = NodeID(name)
	nodes := []string{name}
	want := append(slices.Clone(voters), NodeID(name))
	if replaces != "" {
		v["replaces"] = replaces
		nodes = append(nodes, replaces)
		want = slices.DeleteFunc(want, func(id uint64) bool { return id == NodeID(replaces) })
	}
	slices.Sort(want)
	v["nodes"] = nodes
	v["voters"] = want
	return action(ctx, rec, history.NemesisMember.Start, v, func(ctx context.Context) (Value, error) {
		verified := Value{}
		res, err := AddMember(ctx, mc, s.answering(ctx), name, replaces, s.opts.JoinDelay)
		verified["answer"] = res.Answer
		if res.Refused != "" {
			// The broker refused the change (would lose quorum, change in
			// progress, no leader): its answer, not a failed fault.
			verified["refused"] = res.Refused
			if rerr := mc.RemoveNode(ctx, name); rerr != nil {
				return verified, rerr
			}
			return verified, nil
		}
		if errors.Is(err, ErrUnverified) {
			return unfinished(verified, err), nil
		}
		if err != nil && !res.Accepted {
			// No node took the request: the new node never started and
			// is not a member; it goes, the change did not happen.
			verified["not_accepted"] = err.Error()
			if rerr := mc.RemoveNode(ctx, name); rerr != nil {
				return verified, errors.Join(err, rerr)
			}
			return verified, nil
		}
		if err != nil {
			return verified, err
		}
		verified["took_ms"] = res.Took.Milliseconds()
		vv, err := verifyVoters(ctx, s, want, replaces)
		verified["status"] = vv
		if err != nil {
			return unfinished(verified, err), nil
		}
		if replaces != "" {
			// The replaced node's disk is gone: its id is never used again.
			if err := mc.RemoveNode(ctx, replaces); err != nil {
				return verified, err
			}
			verified["wiped"] = replaces
		}
		return verified, nil
	})
}

func (m *memberFault) remove(ctx context.Context, s *Scheduler, mc MemberCluster, rec Recorder, v Value, voters []uint64, target string) error {
	id := NodeID(target)
	want := slices.DeleteFunc(slices.Clone(voters), func(x uint64) bool { return x == id })
	v["node"], v["id"], v["nodes"], v["voters"] = target, id, []string{target}, want
	return action(ctx, rec, history.NemesisMember.Start, v, func(ctx context.Context) (Value, error) {
		verified := Value{}
		via := slices.DeleteFunc(s.answering(ctx), func(n string) bool { return n == target })
		start := time.Now()
		code, body, err := memberRequest(ctx, mc, via, "DELETE", fmt.Sprintf("/admin/members/%d?timeout=30s", id), nil)
		verified["answer"] = answerOf(code, body, err)
		switch {
		case err != nil:
			return verified, err
		case code == 202:
			if _, err := waitMember(ctx, mc, via, id, "removed"); err != nil {
				return unfinished(verified, err), nil
			}
		case code != 200:
			verified["refused"] = answerOf(code, body, nil)
			return verified, nil
		}
		verified["took_ms"] = time.Since(start).Milliseconds()
		vv, err := verifyVoters(ctx, s, want, target)
		verified["status"] = vv
		if err != nil {
			return unfinished(verified, err), nil
		}
		if err := mc.RemoveNode(ctx, target); err != nil {
			return verified, err
		}
		verified["wiped"] = target
		return verified, nil
	})
}

// NodeID is the Raft id of node "nK": K (0 for another name).
func NodeID(node string) uint64 {
	id, err := strconv.ParseUint(strings.TrimPrefix(node, "n"), 10, 64)
	if err != nil || !strings.HasPrefix(node, "n") {
		return 0
	}
	return id
}

// AddResult is what AddMember saw.
type AddResult struct {
	// Answer is the broker's answer to the POST ("200", "409 id_in_use").
	Answer string
	// Refused is set when the broker refused the change.
	Refused string
	// Accepted is set once the broker accepted the change (200, 202, or
	// id_in_use after a retry). Before that the new node was never
	// started: a caller that gives up removes it, or the run would carry
	// a node that waits forever to be added.
	Accepted bool
	// Took is from the request to the member being a voter everywhere.
	Took time.Duration
}

// AddMember makes node (created by AddNode, not started) a member, in
// place of the voter replaces unless that is "": it records the member
// through one of via (POST /admin/members, forwarded to the __meta
// leader), waits joinDelay, starts the node and waits until the broker
// reports the member a voter in every group (and replaces removed).
//
// With a new node from AddNode and replaces a node that is down or refused
// to start (a corrupt store), this is the rebuild of a node: the
// replacement gets a fresh id and an empty store and catches up from the
// others; the caller then removes the old node (RemoveNode).
func AddMember(ctx context.Context, mc MemberCluster, via []string, node, replaces string, joinDelay time.Duration) (AddResult, error) {
	var res AddResult
	spec := map[string]any{"id": NodeID(node), "raft_addr": mc.RaftAddr(node), "kafka_addr": mc.KafkaAddr(node)}
	if replaces != "" {
		spec["replaces"] = NodeID(replaces)
	}
	body, _ := json.Marshal(spec)
	start := time.Now()
	// A short timeout: the answer comes once the record is committed; the
	// node is started after that, so the member cannot be a voter yet.
	code, rb, err := memberRequest(ctx, mc, via, "POST", "/admin/members?timeout=1s", body)
	res.Answer = answerOf(code, rb, err)
	if err != nil {
		return res, err
	}
	// id_in_use: a retry on another node after an earlier attempt went
	// through (the ids handed out are fresh).
	if code != 200 && code != 202 && !strings.Contains(res.Answer, "id_in_use") {
		res.Refused = res.Answer
		return res, nil
	}
	res.Accepted = true
	sleep(ctx, joinDelay)
	if err := mc.Start(ctx, node); err != nil {
		return res, fmt.Errorf("start %s: %w", node, err)
	}
	if _, err := waitState(ctx, mc, node, func(st NodeState) bool { return st == Running }); err != nil {
		return res, err
	}
	if _, err := waitMember(ctx, mc, append(slices.Clone(via), node), NodeID(node), "voter"); err != nil {
		return res, err
	}
	if replaces != "" {
		if _, err := waitMember(ctx, mc, via, NodeID(replaces), "removed"); err != nil {
			return res, err
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

func answerOf(code int, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%d %s", code, e.Error)
	}
	return strconv.Itoa(code)
}

// memberRequest sends a membership request to the first of via that
// answers with something other than 503 (no __meta leader yet: tried again
// on the next node, then again after a pause, for up to memberRetry).
func memberRequest(ctx context.Context, mc MemberCluster, via []string, method, path string, body []byte) (int, []byte, error) {
	if len(via) == 0 {
		return 0, nil, errors.New("member request: no node answers")
	}
	deadline := time.Now().Add(memberRetry)
	var lastCode int
	var lastBody []byte
	var lastErr error
	for {
		for _, n := range via {
			rctx, cancel := context.WithTimeout(ctx, 40*time.Second)
			code, rb, err := mc.AdminBody(rctx, n, method, path, body)
			cancel()
			// 503: no __meta leader known there yet; 410: that node was
			// removed and speaks for no cluster. Ask the next one.
			if err == nil && code != 503 && code != 410 {
				return code, rb, nil
			}
			lastCode, lastBody, lastErr = code, rb, err
		}
		if time.Now().After(deadline) || !sleep(ctx, 500*time.Millisecond) {
			if lastErr != nil {
				return 0, nil, fmt.Errorf("member request %s %s: %w", method, path, lastErr)
			}
			return lastCode, lastBody, nil
		}
	}
}

// memberRetry bounds how long a membership request is retried while no
// node can reach a __meta leader.
var memberRetry = 20 * time.Second

// memberWait bounds the wait for a change to complete.
var memberWait = 40 * time.Second

// memberRecord is one member of GET /admin/members.
type memberRecord struct {
	ID    uint64 `json:"id"`
	State string `json:"state"`
}

type memberList []memberRecord

func (ms memberList) voters() []uint64 {
	var out []uint64
	for _, m := range ms {
		if m.State == "voter" {
			out = append(out, m.ID)
		}
	}
	slices.Sort(out)
	return out
}

// inProgress describes a member joining or leaving, "" when none is.
func (ms memberList) inProgress() string {
	for _, m := range ms {
		if m.State == "joining" || m.State == "leaving" {
			return fmt.Sprintf("member %d is %s", m.ID, m.State)
		}
	}
	return ""
}

// getMembers reads the member records (a linearizable read) from the
// first of nodes that answers.
func getMembers(ctx context.Context, c Cluster, nodes []string) (memberList, error) {
	var lastErr error
	for _, n := range nodes {
		rctx, cancel := context.WithTimeout(ctx, 12*time.Second)
		code, body, err := c.Admin(rctx, n, "GET", "/admin/members")
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		if code != 200 {
			lastErr = fmt.Errorf("GET /admin/members on %s: %d %s", n, code, strings.TrimSpace(string(body)))
			continue
		}
		var doc struct {
			Members memberList `json:"members"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			lastErr = fmt.Errorf("GET /admin/members on %s: %w", n, err)
			continue
		}
		return doc.Members, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no node to ask")
	}
	return nil, lastErr
}

// waitMember polls the member records until id is in state want.
func waitMember(ctx context.Context, c Cluster, via []string, id uint64, want string) (memberList, error) {
	ms, last, ok := pollMembers(ctx, c, via, func(ms memberList) string {
		state := "absent"
		for _, m := range ms {
			if m.ID == id {
				state = m.State
			}
		}
		if state == want {
			return ""
		}
		return state
	})
	if !ok {
		return nil, unverified("member %d did not become %s within %v (last: %s)", id, want, memberWait, last)
	}
	return ms, nil
}

// waitSettled waits until no member is joining or leaving.
func waitSettled(ctx context.Context, c Cluster, via []string) (memberList, error) {
	ms, last, ok := pollMembers(ctx, c, via, memberList.inProgress)
	if !ok {
		return nil, unverified("membership did not settle within %v (last: %s)", memberWait, last)
	}
	return ms, nil
}

// pollMembers reads the member records every 200 ms, at most memberWait,
// until pending finds nothing to wait for (returns ""). Otherwise ok is
// false and last is what was seen last: pending's answer or the read's
// error.
func pollMembers(ctx context.Context, c Cluster, via []string, pending func(memberList) string) (ms memberList, last string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, memberWait)
	defer cancel()
	for {
		ms, err := getMembers(ctx, c, via)
		if err == nil {
			if last = pending(ms); last == "" {
				return ms, "", true
			}
		} else {
			last = err.Error()
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return nil, last, false
		}
	}
}

// memberStatus is the part of /status the verification reads.
type memberStatus struct {
	Groups []struct {
		Name     string   `json:"name"`
		Voters   []uint64 `json:"voters"`
		Outgoing []uint64 `json:"voters_outgoing"`
	} `json:"groups"`
}

// verifyVoters waits until every running node that reaches a majority of
// the others shows want as the voters of every Raft group it hosts, out of
// any joint configuration. A node on the minority side of a partition
// cannot learn the change, so it is left out and named. It returns, per node, the groups it checked.
func verifyVoters(ctx context.Context, s *Scheduler, want []uint64, leaving ...string) (Value, error) {
	ctx, cancel := context.WithTimeout(ctx, memberWait)
	defer cancel()
	want = slices.Sorted(slices.Values(want))
	for {
		out := Value{}
		var behind []string
		var skippedCut []string
		nodes := s.answering(ctx)
		for _, n := range nodes {
			if slices.Contains(leaving, n) {
				// A removed node stops serving; what it last applied is
				// not the cluster's configuration.
				continue
			}
			// A node that reaches no majority of the others cannot learn
			// the change until the partition heals; one on the majority
			// side must show it.
			reach := 1
			for _, p := range nodes {
				if p != n && !s.cut(n, p) && !s.cut(p, n) {
					reach++
				}
			}
			if reach <= len(nodes)/2 {
				skippedCut = append(skippedCut, n)
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, statusTimeout)
			code, body, err := s.c.Admin(rctx, n, "GET", "/status")
			cancel()
			var st memberStatus
			if err != nil || code != 200 || json.Unmarshal(body, &st) != nil {
				behind = append(behind, n+": no /status")
				continue
			}
			bad := ""
			for _, g := range st.Groups {
				got := slices.Sorted(slices.Values(g.Voters))
				if len(g.Outgoing) > 0 || !slices.Equal(got, want) {
					bad = fmt.Sprintf("%s: %s voters %v outgoing %v", n, g.Name, got, g.Outgoing)
					break
				}
			}
			if bad != "" {
				behind = append(behind, bad)
				continue
			}
			out[n] = len(st.Groups)
		}
		if len(skippedCut) > 0 {
			out["cut_off"] = skippedCut
		}
		if len(behind) == 0 {
			return Value{"groups": out}, nil
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return Value{"groups": out, "behind": behind}, unverified("voters %v not shown within %v: %s", want, memberWait, strings.Join(behind, "; "))
		}
	}
}

// unfinished records that a change was committed but did not complete
// within the action's bounds (a partition, a killed majority): the broker
// goes on with it, later actions wait for it, and the final heal verifies
// its end.
func unfinished(v Value, err error) Value {
	v["unfinished"] = err.Error()
	return v
}

// ReplaceNode rebuilds node old under a new id, the way the member family's
// replace does, for a caller outside the schedule (a node that refused its
// corrupt store and cannot be brought back otherwise): it creates a new
// node (AddNode: the next id, an empty store), adds it in place of old in
// one joint change through a running node (AddMember), waits until it is
// a voter everywhere and old is removed, then removes old's container and
// store (RemoveNode). old may be running, exited or refusing to start. It
// returns the new node's name; on a refusal (the broker's answer is in
// the error), or when no node accepted the request, the new node is
// removed again and old is left alone.
func ReplaceNode(ctx context.Context, mc MemberCluster, old string, joinDelay time.Duration) (string, AddResult, error) {
	var via []string
	for _, n := range mc.Nodes() {
		if st, err := mc.State(ctx, n); err == nil && st == Running && n != old {
			via = append(via, n)
		}
	}
	if len(via) == 0 {
		return "", AddResult{}, fmt.Errorf("replace %s: no running node to ask", old)
	}
	node, err := mc.AddNode(ctx)
	if err != nil {
		return "", AddResult{}, fmt.Errorf("replace %s: %w", old, err)
	}
	res, err := AddMember(ctx, mc, via, node, old, joinDelay)
	if err == nil && res.Refused != "" {
		err = fmt.Errorf("replace %s: the broker refused: %s", old, res.Refused)
	}
	if err != nil {
		if !res.Accepted {
			if rerr := mc.RemoveNode(ctx, node); rerr != nil {
				return node, res, errors.Join(err, rerr)
			}
		}
		return node, res, fmt.Errorf("replace %s by %s: %w", old, node, err)
	}
	if err := mc.RemoveNode(ctx, old); err != nil {
		return node, res, fmt.Errorf("replace %s: %w", old, err)
	}
	return node, res, nil
}
