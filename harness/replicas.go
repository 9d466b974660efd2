package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/replicas"
	"github.com/chronik-chaos/chronik/nemesis"
)

// The replicas phase reads, after the final heal, recovery and drain,
// every partition from every node: Fetch requests from offset 0 to the
// high watermark, sent to that node alone (a client whose only broker is
// the node's address, and requests addressed to that seed connection, so
// nothing is routed to a leader). The broker serves Fetch on a follower
// from its own log once a ReadIndex round proved it has applied the
// leader's commit, so each copy is that node's own. Package
// checkers/replicas compares the copies; they are saved as replicas.jsonl
// so that `chaos check` can compare them again offline.

// Bounds of the replicas phase.
const (
	// replicaMaxRecords cuts a copy short (the check is then unknown).
	replicaMaxRecords = 2_000_000
	// replicaCopyPatience bounds the retries of one copy's reads
	// (NOT_LEADER_OR_FOLLOWER while a restarted node catches up, a topic
	// whose creation the node has not applied yet).
	replicaCopyPatience = 15 * time.Second
	// replicaRequestTimeout bounds one Fetch.
	replicaRequestTimeout = 5 * time.Second
	// replicaAbsentPatience is how long a node may answer
	// UNKNOWN_TOPIC_OR_PARTITION before its copy is taken as absent (the
	// node answers it from its own __meta view, which a node that just
	// recovered may still be catching up).
	replicaAbsentPatience = 5 * time.Second
)

// replicaPageBytes bounds one Fetch response; long logs take several (a
// variable so that tests can make every log long).
var replicaPageBytes int32 = 1 << 20

// replicaNodes is what the replicas phase needs of the cluster.
type replicaNodes interface {
	Nodes() []string
	KafkaAddr(name string) string
	KafkaAddrs() []string
	State(ctx context.Context, name string) (nemesis.NodeState, error)
}

// ReplicaStats sums up a replicas phase for the progress line.
type ReplicaStats struct {
	Keys, Nodes, Copies, Unread, Records, Fetches int
	Took                                          time.Duration
}

// ReadReplicas reads every partition (those Metadata lists, plus known,
// which are the keys the workload used) from every node, bounded by ctx.
// Times in the copies are nanoseconds since base, the history's time base.
// A node that is not running yields one copy naming it with an error.
func ReadReplicas(ctx context.Context, c replicaNodes, known []Key, base time.Time, log *slog.Logger) ([]replicas.Copy, ReplicaStats) {
	start := time.Now()
	keys := listKeys(ctx, c.KafkaAddrs(), known, log)
	st := ReplicaStats{Keys: len(keys), Nodes: len(c.Nodes())}
	out := make([][]replicas.Copy, len(c.Nodes()))
	var wg sync.WaitGroup
	for i, n := range c.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = readNode(ctx, c, n, keys, base, log)
		}()
	}
	wg.Wait()
	var all []replicas.Copy
	for _, cs := range out {
		for _, cp := range cs {
			if cp.Error != "" || cp.Truncated {
				st.Unread++
			} else {
				st.Copies++
			}
			st.Records += len(cp.Records)
			st.Fetches += cp.Fetches
		}
		all = append(all, cs...)
	}
	st.Took = time.Since(start)
	return all, st
}

// listKeys is every partition Metadata lists, with the known keys added
// (so that a key the broker forgot is still read, and found missing).
func listKeys(ctx context.Context, seeds []string, known []Key, log *slog.Logger) []Key {
	set := map[Key]bool{}
	for _, k := range known {
		set[k] = true
	}
	cl, err := kgo.NewClient(clientOpts(seeds, "chaos-replicas", replicaRequestTimeout, log)...)
	if err == nil {
		mctx, cancel := context.WithTimeout(ctx, 2*replicaRequestTimeout)
		tds, err := kadm.NewClient(cl).ListTopics(mctx)
		cancel()
		cl.Close()
		if err != nil {
			log.Warn("replicas: list topics", "err", err)
		}
		for _, td := range tds {
			for p := range td.Partitions {
				set[Key{Topic: td.Topic, Partition: p}] = true
			}
		}
	}
	keys := make([]Key, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return keys
}

// readNode reads every key's copy from one node.
func readNode(ctx context.Context, c replicaNodes, node string, keys []Key, base time.Time, log *slog.Logger) []replicas.Copy {
	if st, err := c.State(ctx, node); err != nil || st != nemesis.Running {
		why := fmt.Sprintf("node not running at the end of the run (state %s)", st)
		if err != nil {
			why = fmt.Sprintf("node state unknown: %v", err)
		}
		return []replicas.Copy{{Node: node, Error: why}}
	}
	// No retries inside the client: a retried request could go out on a
	// fresh connection, still to this node, but the loop below retries
	// with its own patience and records what happened.
	// Fetch up to v12 names topics by name (v13+ by id only, which would
	// need a Metadata round per topic).
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(1, 12)
	opts := append(clientOpts([]string{c.KafkaAddr(node)}, "chaos-replicas-"+node, replicaRequestTimeout, log),
		kgo.RequestRetries(0), kgo.MaxVersions(vs))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return []replicas.Copy{{Node: node, Error: fmt.Sprintf("new client: %v", err)}}
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return []replicas.Copy{{Node: node, Error: fmt.Sprintf("client has %d seed brokers, want 1", len(seeds))}}
	}
	br := seeds[0]
	out := make([]replicas.Copy, 0, len(keys))
	failed := 0
	for _, k := range keys {
		if failed >= replicaGiveUpCopies {
			// A node that answered no read of several keys in a row (a
			// member removed from the cluster answers NOT_LEADER for
			// every partition) would spend the phase's whole budget.
			out = append(out, replicas.Copy{Node: node, Key: k.String(),
				Error: fmt.Sprintf("not read: the node answered no read of the %d keys before", failed)})
			continue
		}
		cp := readCopy(ctx, br, node, k, base)
		if cp.Error != "" {
			failed++
		} else {
			failed = 0
		}
		out = append(out, cp)
	}
	describeUnread(ctx, c, node, out)
	return out
}

// groupStatus is the part of a Raft group's entry in a node's /status
// that the replicas phase quotes.
type groupStatus struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Term    uint64 `json:"term"`
	Leader  uint64 `json:"leader"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
}

// describeUnread adds to each copy the node would not serve what the node
// itself says of that partition's Raft group (/status: role, leader,
// term, commit, applied), when the cluster answers admin requests: an
// unread copy is then evidence of where the node stood (no leader known,
// behind in applying), not only of a timeout.
func describeUnread(ctx context.Context, c replicaNodes, node string, copies []replicas.Copy) {
	ac, ok := c.(interface {
		Admin(ctx context.Context, name, method, path string) (int, []byte, error)
	})
	if !ok || !slices.ContainsFunc(copies, func(cp replicas.Copy) bool { return cp.Error != "" && cp.Key != "" }) {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, replicaRequestTimeout)
	defer cancel()
	code, body, err := ac.Admin(sctx, node, "GET", "/status")
	var st struct {
		Groups []groupStatus `json:"groups"`
	}
	if err == nil && code == 200 {
		err = json.Unmarshal(body, &st)
	} else if err == nil {
		err = fmt.Errorf("HTTP %d", code)
	}
	for i := range copies {
		cp := &copies[i]
		if cp.Error == "" || cp.Key == "" {
			continue
		}
		if err != nil {
			cp.Error += fmt.Sprintf(" (%s's /status: %v)", node, err)
			continue
		}
		at := slices.IndexFunc(st.Groups, func(g groupStatus) bool { return g.Name == cp.Key })
		if at < 0 {
			cp.Error += fmt.Sprintf(" (%s's /status lists no group %s)", node, cp.Key)
			continue
		}
		g := st.Groups[at]
		cp.Error += fmt.Sprintf(" (%s's /status of %s: %s, leader %d, term %d, commit %d, applied %d)",
			node, g.Name, g.Role, g.Leader, g.Term, g.Commit, g.Applied)
	}
}

// replicaGiveUpCopies is how many copies in a row a node may fail to
// answer before its remaining keys are not tried.
const replicaGiveUpCopies = 3

// readCopy pages through one key on one broker connection.
func readCopy(ctx context.Context, br *kgo.Broker, node string, k Key, base time.Time) replicas.Copy {
	cp := replicas.Copy{Node: node, Key: k.String(), Records: []history.Record{}}
	since := func() int64 { return int64(time.Since(base)) }
	giveUp := time.Now().Add(replicaCopyPatience)
	var lastErr error
	var unknownSince time.Time
	from := int64(0)
	started := false
	for {
		if ctx.Err() != nil || time.Now().After(giveUp) {
			why := "time budget of the replicas phase ran out"
			if ctx.Err() == nil {
				why = fmt.Sprintf("no answer within %s", replicaCopyPatience)
			}
			if lastErr != nil {
				why += ": " + lastErr.Error()
			}
			if !started {
				return replicas.Copy{Node: node, Key: k.String(), Fetches: cp.Fetches, Error: why}
			}
			cp.Truncated, cp.HW = true, from
			return cp
		}
		invoked, invokedFrom := since(), from
		recs, next, hw, logStart, foreign, err := fetchPage(ctx, br, k, from)
		cp.Fetches++
		if err != nil {
			lastErr = err
			if !errors.Is(err, kerr.UnknownTopicOrPartition) {
				unknownSince = time.Time{}
			} else if unknownSince.IsZero() {
				unknownSince = time.Now()
			} else if !started && time.Since(unknownSince) >= replicaAbsentPatience {
				return replicas.Copy{Node: node, Key: k.String(), Records: []history.Record{}, Absent: true,
					InvokedAt: invoked, AnsweredAt: since(), Fetches: cp.Fetches}
			}
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		if !started {
			started = true
			cp.InvokedAt, cp.FirstHW, cp.LogStart = invoked, hw, logStart
			from = max(from, logStart)
		}
		cp.AnsweredAt, cp.HW = since(), hw
		cp.Foreign += foreign
		cp.Records = append(cp.Records, recs...)
		from = max(from, next)
		if from >= hw {
			return cp
		}
		if len(cp.Records) >= replicaMaxRecords {
			cp.Truncated, cp.HW = true, from
			return cp
		}
		if next <= invokedFrom {
			// No record below the high watermark from here: wait for the
			// node and try again (bounded by the patience above).
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
}

// fetchPage sends one Fetch of k from offset from and decodes the records
// at or above from and below the high watermark; next is the offset after
// the last of them (from when there is none). Records whose value is no
// integer of this harness are counted as foreign (and skipped over).
func fetchPage(ctx context.Context, br *kgo.Broker, k Key, from int64) (recs []history.Record, next, hw, logStart int64, foreign int, err error) {
	next = from
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis, req.MinBytes = 0, 0
	req.MaxBytes = replicaPageBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = k.Topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = k.Partition, from, replicaPageBytes
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(ctx, replicaRequestTimeout)
	defer cancel()
	resp, err := br.Request(rctx, req)
	if err != nil {
		return nil, from, 0, 0, 0, fmt.Errorf("fetch %s from %d: %w", k, from, err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return nil, from, 0, 0, 0, fmt.Errorf("fetch %s: %w", k, err)
	}
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			p := &fr.Topics[i].Partitions[j]
			if fr.Topics[i].Topic != k.Topic || p.Partition != k.Partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, from, 0, 0, 0, fmt.Errorf("fetch %s: %w", k, err)
			}
			// Control records (transaction markers) are kept so that
			// the read moves past a marker that ends the log; they are
			// no data of this harness and are not counted as foreign.
			fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: from, Topic: k.Topic, Partition: k.Partition, KeepControlRecords: true,
			}, p, kgo.DefaultDecompressor(), nil)
			if fp.Err != nil {
				return nil, from, 0, 0, 0, fmt.Errorf("fetch %s: decode: %w", k, fp.Err)
			}
			for _, r := range fp.Records {
				if r.Offset < from || r.Offset >= p.HighWatermark {
					continue
				}
				next = max(next, r.Offset+1)
				if r.Attrs.IsControl() {
					continue
				}
				v, err := strconv.ParseInt(string(r.Value), 10, 64)
				if err != nil {
					foreign++
					continue
				}
				recs = append(recs, history.Record{Offset: r.Offset, Value: v})
			}
			return recs, next, p.HighWatermark, p.LogStartOffset, foreign, nil
		}
	}
	return nil, from, 0, 0, 0, errors.New("fetch " + k.String() + ": partition missing from the response")
}
