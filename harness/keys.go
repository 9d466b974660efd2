package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Key is one topic-partition, written "topic/partition" in the history.
type Key struct {
	Topic     string
	Partition int32
}

func (k Key) String() string { return k.Topic + "/" + strconv.Itoa(int(k.Partition)) }

// ParseKey reads "topic/partition".
func ParseKey(s string) (Key, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return Key{}, fmt.Errorf("key %q: want topic/partition", s)
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %w", s, err)
	}
	return Key{Topic: s[:i], Partition: int32(p)}, nil
}

// keyOf maps key number n to its topic-partition: topics t0, t1, ... with
// parts partitions each, as Jepsen's Kafka workload does.
func (ks *Keyspace) keyOf(n int) Key {
	return Key{Topic: ks.prefix + strconv.Itoa(n/ks.parts), Partition: int32(n % ks.parts)}
}

// Keyspace hands out the keys clients write to. A fixed number of keys is
// active; after writesPerKey writes a key is retired and the next unused key
// takes its place (Jepsen rotates keys so that each key's history stays
// short and anomalies show up per key). Topics are created ahead of use.
// Safe for concurrent use.
type Keyspace struct {
	parts, replicas, perKey int
	prefix                  string // topic name prefix, "t"
	admin                   *kadm.Client
	log                     *slog.Logger

	mu      sync.Mutex
	active  []int
	next    int
	writes  map[int]int
	used    []Key // every key ever active, in order
	created map[string]bool
	values  int64
	acked   map[Key]int64 // highest acknowledged offset per key
}

// NewKeyspace prepares active keys over topics of parts partitions with the
// given replication factor. admin may be nil in tests that create topics
// themselves.
func NewKeyspace(admin *kadm.Client, active, parts, replicas, perKey int, log *slog.Logger) *Keyspace {
	ks := &Keyspace{prefix: "t", parts: parts, replicas: replicas, perKey: perKey, admin: admin, log: log,
		writes: map[int]int{}, created: map[string]bool{}, acked: map[Key]int64{}}
	for i := 0; i < active; i++ {
		ks.active = append(ks.active, i)
		ks.used = append(ks.used, ks.keyOf(i))
	}
	ks.next = active
	return ks
}

// Setup creates the topics of the active keys and of the next ones, retrying
// until ctx ends (the cluster may still be electing leaders).
func (ks *Keyspace) Setup(ctx context.Context) error {
	ks.mu.Lock()
	var topics []string
	for _, n := range append(append([]int(nil), ks.active...), ks.next, ks.next+ks.parts) {
		t := ks.keyOf(n).Topic
		if !containsStr(topics, t) {
			topics = append(topics, t)
		}
	}
	ks.mu.Unlock()
	var err error
	for attempt := 0; attempt < 1000; attempt++ {
		if err = ks.create(ctx, topics...); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create topics %v: %w (last error: %v)", topics, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}

func (ks *Keyspace) create(ctx context.Context, topics ...string) error {
	if ks.admin == nil {
		return nil
	}
	var todo []string
	ks.mu.Lock()
	for _, t := range topics {
		if !ks.created[t] {
			todo = append(todo, t)
		}
	}
	ks.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := ks.admin.CreateTopics(cctx, int32(ks.parts), int16(ks.replicas), nil, todo...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", todo, err)
	}
	var errs []error
	for _, r := range res.Sorted() {
		if r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists) {
			ks.mu.Lock()
			ks.created[r.Topic] = true
			ks.mu.Unlock()
			continue
		}
		errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Err))
	}
	if len(errs) == 0 {
		ks.log.Debug("topics created", "topics", todo)
	}
	return errors.Join(errs...)
}

// NextWrite picks an active key with rng and a fresh value unique in the
// run (so unique per key), counting the write towards the key's rotation.
// When a key retires, the topic that keys after the new one will need is
// created in the background, so that writers rarely meet a missing topic.
func (ks *Keyspace) NextWrite(ctx context.Context, rng *rand.Rand) (Key, int64) {
	k, vs := ks.NextWrites(ctx, rng, 1)
	return k, vs[0]
}

// NextWrites is NextWrite for n values (n >= 1) to one key, as a producer
// with several records in flight sends them.
func (ks *Keyspace) NextWrites(ctx context.Context, rng *rand.Rand, n int) (Key, []int64) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	i := rng.IntN(len(ks.active))
	kn := ks.active[i]
	vs := make([]int64, max(n, 1))
	for j := range vs {
		ks.values++
		vs[j] = ks.values
	}
	ks.writes[kn] += len(vs)
	if ks.writes[kn] >= ks.perKey {
		ks.active[i] = ks.next
		ks.used = append(ks.used, ks.keyOf(ks.next))
		ks.next++
		ahead := ks.keyOf(ks.next + ks.parts).Topic
		if !ks.created[ahead] {
			go func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
				defer cancel()
				if err := ks.create(cctx, ahead); err != nil {
					ks.log.Warn("create topic ahead", "topic", ahead, "err", err)
				}
			}()
		}
	}
	return ks.keyOf(kn), vs
}

// NextValue returns a fresh value unique in the run, for a write to a key
// the caller already has (it does not count towards the key's rotation).
func (ks *Keyspace) NextValue() int64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.values++
	return ks.values
}

// Partitions is the number of partitions per topic.
func (ks *Keyspace) Partitions() int { return ks.parts }

// subscription is what subscribing to keys' topics covers: the topics, in
// first-seen order, and the names of every partition of them, retired keys
// included (those are the keys its polls can return).
func (ks *Keyspace) subscription(keys []Key) (topics, names []string) {
	for _, k := range keys {
		if !containsStr(topics, k.Topic) {
			topics = append(topics, k.Topic)
		}
	}
	for _, t := range topics {
		for p := range ks.Partitions() {
			names = append(names, Key{Topic: t, Partition: int32(p)}.String())
		}
	}
	return topics, names
}

// Active returns the keys currently written to.
func (ks *Keyspace) Active() []Key {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	out := make([]Key, len(ks.active))
	for i, n := range ks.active {
		out[i] = ks.keyOf(n)
	}
	return out
}

// Used returns every key that was ever active.
func (ks *Keyspace) Used() []Key {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]Key(nil), ks.used...)
}

// Acked notes an acknowledged write at offset.
func (ks *Keyspace) Acked(k Key, offset int64) {
	ks.mu.Lock()
	if o, ok := ks.acked[k]; !ok || offset > o {
		ks.acked[k] = offset
	}
	ks.mu.Unlock()
}

// AckedOffsets returns the highest acknowledged offset of every key that
// has one.
func (ks *Keyspace) AckedOffsets() map[Key]int64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	out := make(map[Key]int64, len(ks.acked))
	for k, o := range ks.acked {
		out[k] = o
	}
	return out
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// newAdmin builds an admin client over the seeds.
func newAdmin(seeds []string, opTimeout time.Duration, log *slog.Logger) (*kadm.Client, *kgo.Client, error) {
	cl, err := kgo.NewClient(clientOpts(seeds, "chaos-admin", opTimeout, log)...)
	if err != nil {
		return nil, nil, fmt.Errorf("new admin client: %w", err)
	}
	return kadm.NewClient(cl), cl, nil
}
