package harness

import (
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// nodeName is the history's name of the broker with id id ("n2"): the
// harness names node i "n<i>" and starts it with --node-id i.
func nodeName(id int32) string { return fmt.Sprintf("n%d", id) }

// servedBy learns from franz-go's hooks which broker answered a client's
// requests, so that completions can name the node that served them (the
// history's optional "node" field). A process has one operation in flight,
// so the last answer of a kind is the operation's, except for a consumer's
// fetches, which run ahead of polls: those are kept per key since the last
// poll. Safe for concurrent use (hooks run on franz-go's goroutines).
type servedBy struct {
	mu      sync.Mutex
	byAPI   map[int16]int32
	fetched map[Key][]int32 // brokers whose batches were read since the last poll, in order
	last    map[Key]int32   // the broker of the last batch read per key
}

func newServedBy() *servedBy {
	return &servedBy{byAPI: map[int16]int32{}, fetched: map[Key][]int32{}, last: map[Key]int32{}}
}

var (
	_ kgo.HookFetchBatchRead = (*servedBy)(nil)
	_ kgo.HookBrokerRead     = (*servedBy)(nil)
)

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (s *servedBy) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, partition int32, _ kgo.FetchBatchMetrics) {
	if meta.NodeID < 0 {
		return // a seed connection: no node id known
	}
	k := Key{Topic: topic, Partition: partition}
	s.mu.Lock()
	if f := s.fetched[k]; len(f) == 0 || f[len(f)-1] != meta.NodeID {
		s.fetched[k] = append(f, meta.NodeID)
	}
	s.last[k] = meta.NodeID
	s.mu.Unlock()
}

// OnBrokerRead implements kgo.HookBrokerRead: the broker of the last
// answer of every API (Produce, OffsetCommit, OffsetFetch). franz-go
// reads a response, calls this hook, then handles the response, so the
// node is known before the operation's promise or callback runs.
func (s *servedBy) OnBrokerRead(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	s.mu.Lock()
	// A seed connection (negative id, before metadata) names no node:
	// record it as unknown rather than keep an earlier answer's node.
	s.byAPI[key] = max(meta.NodeID, -1)
	s.mu.Unlock()
}

// api is the node of the last answer to API key, "" if none.
func (s *servedBy) api(key int16) string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byAPI[key]; ok && id >= 0 {
		return nodeName(id)
	}
	return ""
}

// poll returns who served a poll's records: one node for all keys, or
// the nodes per key when they differ. A key whose batches were all read
// before the previous poll is credited to the last broker it was read
// from. It starts the next poll's window.
func (s *servedBy) poll(keys []Key) (string, map[string][]string) {
	if s == nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	per := map[string][]string{}
	single, one := "", true
	for _, k := range keys {
		ids := s.fetched[k]
		if len(ids) == 0 {
			if id, ok := s.last[k]; ok {
				ids = []int32{id}
			}
		}
		if len(ids) == 0 {
			continue
		}
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = nodeName(id)
		}
		per[k.String()] = names
		if len(names) != 1 || (single != "" && single != names[0]) {
			one = false
		}
		single = names[0]
	}
	clear(s.fetched)
	if len(per) == 0 {
		return "", nil
	}
	if one {
		return single, nil
	}
	return "", per
}
