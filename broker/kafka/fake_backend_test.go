package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// fakeBackend is an in-memory single-node Backend for protocol tests: it
// assigns offsets, de-duplicates idempotent batches like the real core and
// wakes waiting fetches. It has no Raft and no disk.
type fakeBackend struct {
	host string
	port int32

	mu       sync.Mutex
	topics   map[string]*fakeTopic
	offsets  map[string]map[cluster.TopicPartition]cluster.OffsetCommit
	nextPID  int64
	notReady bool
	pidErr   error // InitProducerID fails with it when set
	coord    int32 // coordinator id; 1 = us
	second   bool  // a second (unreachable) broker is registered
	racks    bool  // brokers 1-3 are registered in racks r1-r3 and replicate every partition
	jitter   bool  // Produce sleeps a random moment first, to reorder concurrent calls
	// drops > 0: Produce drops that many more batches with ErrNotReady
	// (Raft dropped the proposal), then calls afterDrops once.
	drops      int
	afterDrops func()
	changed    chan struct{}
}

type fakeTopic struct {
	info  cluster.TopicInfo
	parts []*fakePartition
}

type fakePartition struct {
	batches [][]byte
	bases   []int64
	maxTS   []int64
	hw      int64
	pids    map[int64]*fakeProducer
}

type fakeProducer struct {
	epoch   int16
	lastSeq int32
	recent  map[int32]int64 // base sequence -> base offset
}

func newFakeBackend(host string, port int32) *fakeBackend {
	return &fakeBackend{
		host: host, port: port,
		topics:  map[string]*fakeTopic{},
		offsets: map[string]map[cluster.TopicPartition]cluster.OffsetCommit{},
		nextPID: 1000,
		coord:   1,
		changed: make(chan struct{}),
	}
}

func (f *fakeBackend) NodeID() int32       { return 1 }
func (f *fakeBackend) ClusterID() string   { return "fake-cluster" }
func (f *fakeBackend) ControllerID() int32 { return 1 }
func (f *fakeBackend) Brokers() []cluster.BrokerInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []cluster.BrokerInfo{{ID: 1, Host: f.host, Port: f.port}}
	if f.second {
		out = append(out, cluster.BrokerInfo{ID: 2, Host: "elsewhere", Port: 9999})
	}
	if f.racks {
		out = []cluster.BrokerInfo{{ID: 1, Host: f.host, Port: f.port, Rack: "r1"},
			{ID: 2, Host: "elsewhere", Port: 9999, Rack: "r2"}, {ID: 3, Host: "elsewhere", Port: 9998, Rack: "r3"}}
	}
	return out
}

// moveLeader makes node 2 the leader of tp (epoch+1): this node then
// answers NOT_LEADER_OR_FOLLOWER for it.
func (f *fakeBackend) moveLeader(tp cluster.TopicPartition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &f.topics[tp.Topic].info.Partitions[tp.Partition]
	p.Leader, p.LeaderEpoch = 2, p.LeaderEpoch+1
	f.second = true
}

func (f *fakeBackend) leads(tp cluster.TopicPartition) bool {
	return f.topics[tp.Topic].info.Partitions[tp.Partition].Leader == 1
}

func (f *fakeBackend) Topics() []cluster.TopicInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cluster.TopicInfo
	for _, t := range f.topics {
		out = append(out, t.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (f *fakeBackend) Topic(name string) (cluster.TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[name]
	if !ok {
		return cluster.TopicInfo{}, false
	}
	return t.info, true
}

func (f *fakeBackend) CreateTopics(_ context.Context, specs []cluster.TopicSpec, validateOnly bool) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(specs))
	for i, s := range specs {
		switch {
		case s.Name == "" || len(s.Name) > 249:
			errs[i] = cluster.ErrInvalidTopic
		case f.topics[s.Name] != nil:
			errs[i] = cluster.ErrTopicExists
		case s.Partitions <= 0 || s.Partitions > 1000:
			errs[i] = cluster.ErrInvalidPartitions
		}
		if errs[i] != nil || validateOnly {
			continue
		}
		t := &fakeTopic{info: cluster.TopicInfo{Name: s.Name, Configs: s.Configs}}
		t.info.ID[0], t.info.ID[15] = byte(len(f.topics)+1), 7
		for p := range s.Partitions {
			t.info.Partitions = append(t.info.Partitions, cluster.PartitionInfo{
				Partition: p, Leader: 1, LeaderEpoch: 3, Replicas: []int32{1}, ISR: []int32{1},
			})
			t.parts = append(t.parts, &fakePartition{pids: map[int64]*fakeProducer{}})
		}
		f.topics[s.Name] = t
	}
	return errs
}

func (f *fakeBackend) DeleteTopics(_ context.Context, names []string) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(names))
	for i, n := range names {
		if f.topics[n] == nil {
			errs[i] = cluster.ErrUnknownTopic
			continue
		}
		delete(f.topics, n)
	}
	return errs
}

func (f *fakeBackend) partition(tp cluster.TopicPartition) (*fakePartition, error) {
	t := f.topics[tp.Topic]
	if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.parts) {
		return nil, cluster.ErrUnknownTopic
	}
	return t.parts[tp.Partition], nil
}

func (f *fakeBackend) Produce(_ context.Context, tp cluster.TopicPartition, b cluster.Batch, _ int16) (cluster.ProduceResult, error) {
	f.mu.Lock()
	jitter := f.jitter
	f.mu.Unlock()
	if jitter {
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.partition(tp)
	if err != nil {
		return cluster.ProduceResult{}, err
	}
	if f.drops > 0 {
		if f.drops--; f.drops == 0 && f.afterDrops != nil {
			f.afterDrops()
		}
		return cluster.ProduceResult{}, cluster.ErrNotReady
	}
	if !f.leads(tp) {
		return cluster.ProduceResult{}, cluster.ErrNotLeader
	}
	var pr *fakeProducer
	if b.ProducerID >= 0 {
		pr = p.pids[b.ProducerID]
		switch {
		case pr != nil && b.ProducerEpoch < pr.epoch:
			return cluster.ProduceResult{}, cluster.ErrInvalidProducerEpoch
		case pr == nil || b.ProducerEpoch > pr.epoch:
			if b.BaseSequence != 0 {
				return cluster.ProduceResult{}, cluster.ErrUnknownProducerID
			}
			pr = &fakeProducer{epoch: b.ProducerEpoch, lastSeq: -1, recent: map[int32]int64{}}
			p.pids[b.ProducerID] = pr
		}
		if off, ok := pr.recent[b.BaseSequence]; ok {
			return cluster.ProduceResult{BaseOffset: off, LogAppendTime: -1}, cluster.ErrDuplicateSequence
		}
		if b.BaseSequence != pr.lastSeq+1 {
			return cluster.ProduceResult{}, cluster.ErrOutOfOrderSequence
		}
	}
	raw := append([]byte(nil), b.Raw...)
	binary.BigEndian.PutUint64(raw, uint64(p.hw))
	base := p.hw
	p.batches = append(p.batches, raw)
	p.bases = append(p.bases, base)
	p.maxTS = append(p.maxTS, b.MaxTimestamp)
	p.hw += int64(b.Records)
	if pr != nil {
		pr.lastSeq = b.BaseSequence + b.Records - 1
		pr.recent[b.BaseSequence] = base
	}
	close(f.changed)
	f.changed = make(chan struct{})
	return cluster.ProduceResult{BaseOffset: base, LogAppendTime: -1, LogStartOffset: 0}, nil
}

func (f *fakeBackend) Fetch(_ context.Context, tp cluster.TopicPartition, offset int64, maxBytes int32) (cluster.FetchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.partition(tp)
	if err != nil {
		return cluster.FetchResult{}, err
	}
	if !f.leads(tp) {
		return cluster.FetchResult{}, cluster.ErrNotLeader
	}
	if offset < 0 || offset > p.hw {
		return cluster.FetchResult{}, cluster.ErrOffsetOutOfRange
	}
	res := cluster.FetchResult{HighWatermark: p.hw, LastStable: p.hw}
	i := sort.Search(len(p.bases), func(i int) bool {
		next := p.hw
		if i+1 < len(p.bases) {
			next = p.bases[i+1]
		}
		return next > offset
	})
	size := 0
	for ; i < len(p.batches); i++ {
		if len(res.Batches) > 0 && size+len(p.batches[i]) > int(maxBytes) {
			break
		}
		res.Batches = append(res.Batches, p.batches[i])
		size += len(p.batches[i])
	}
	return res, nil
}

func (f *fakeBackend) WaitForData(ctx context.Context, tp cluster.TopicPartition, offset int64, maxWait time.Duration, _ bool) {
	t := time.NewTimer(maxWait)
	defer t.Stop()
	for {
		f.mu.Lock()
		p, err := f.partition(tp)
		if err != nil || p.hw > offset {
			f.mu.Unlock()
			return
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
	}
}

func (f *fakeBackend) ListOffset(_ context.Context, tp cluster.TopicPartition, ts int64, _ bool) (int64, int64, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.partition(tp)
	if err != nil {
		return 0, 0, 0, err
	}
	switch ts {
	case -1:
		return p.hw, -1, 3, nil
	case -2:
		return 0, -1, 3, nil
	}
	for i, m := range p.maxTS {
		if m >= ts {
			return p.bases[i], m, 3, nil
		}
	}
	return -1, -1, 3, nil
}

func (f *fakeBackend) InitProducerID(context.Context) (int64, int16, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pidErr != nil {
		return 0, 0, f.pidErr
	}
	f.nextPID++
	return f.nextPID, 0, nil
}

func (f *fakeBackend) CoordinatorID() int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.coord
}

func (f *fakeBackend) CommitOffsets(_ context.Context, group string, offs map[cluster.TopicPartition]cluster.OffsetCommit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offsets[group] == nil {
		f.offsets[group] = map[cluster.TopicPartition]cluster.OffsetCommit{}
	}
	for tp, oc := range offs {
		f.offsets[group][tp] = oc
	}
	return nil
}

func (f *fakeBackend) DeleteOffsets(_ context.Context, group string, tps []cluster.TopicPartition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		delete(f.offsets[group], tp)
	}
	if len(tps) == 0 || len(f.offsets[group]) == 0 {
		delete(f.offsets, group)
	}
	return nil
}

func (f *fakeBackend) FetchOffsets(_ context.Context, group string) (map[cluster.TopicPartition]cluster.OffsetCommit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[cluster.TopicPartition]cluster.OffsetCommit{}
	for tp, oc := range f.offsets[group] {
		out[tp] = oc
	}
	return out, nil
}

func (f *fakeBackend) Groups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for g := range f.offsets {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

func (f *fakeBackend) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.notReady
}

func (f *fakeBackend) Status() cluster.Status {
	return cluster.Status{NodeID: 1, Mode: "fake", Ready: f.Ready(), Registered: true}
}

func (f *fakeBackend) String() string { return fmt.Sprintf("fake(%s:%d)", f.host, f.port) }

var _ Backend = (*fakeBackend)(nil)
