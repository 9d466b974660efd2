package cluster_test

import (
	"context"
	"errors"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// TestRandomFaultsKeepAcknowledgedWrites runs idempotent producers while a
// seeded schedule cuts links, drops messages and kills/restarts nodes, then
// heals and checks on every node: every acknowledged record is at its
// acknowledged offset, no value appears twice (idempotence across retries
// and failovers), and all replicas hold identical logs.
func TestRandomFaultsKeepAcknowledgedWrites(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(map[int64]string{1: "seed-1", 2: "seed-2"}[seed], func(t *testing.T) {
			tc := newTestCluster(t, 3, func(c *cluster.Config) { c.SnapshotEntries = 200 })
			tc.startAll()
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "t", 2)
			rng := rand.New(rand.NewSource(seed))

			type ack struct{ off, v int64 }
			var mu sync.Mutex
			acked := map[int32][]ack{}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for p := int32(0); p < 2; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tp := cluster.TopicPartition{Topic: "t", Partition: p}
					pid := int64(100 + p)
					for seq := int32(0); ; seq++ {
						v := int64(p)*1_000_000 + int64(seq)
						b := makeBatch(v, pid, 0, seq)
						// Retry the same sequence until a definite answer,
						// as an idempotent Kafka producer does.
						for {
							select {
							case <-stop:
								return
							default:
							}
							l := tc.leaderOf(tp)
							if l == nil {
								time.Sleep(10 * time.Millisecond)
								continue
							}
							ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
							res, err := l.Produce(ctx, tp, b, -1)
							cancel()
							if err == nil || errors.Is(err, cluster.ErrDuplicateSequence) {
								mu.Lock()
								acked[p] = append(acked[p], ack{res.BaseOffset, v})
								mu.Unlock()
								break
							}
							if errors.Is(err, cluster.ErrOutOfOrderSequence) || errors.Is(err, cluster.ErrInvalidProducerEpoch) {
								t.Errorf("partition %d seq %d: %v", p, seq, err)
								return
							}
							time.Sleep(5 * time.Millisecond)
						}
					}
				}()
			}

			deadline := time.Now().Add(6 * time.Second)
			for time.Now().Before(deadline) {
				a := tc.ids[rng.Intn(3)]
				b := tc.ids[rng.Intn(3)]
				switch rng.Intn(4) {
				case 0:
					tc.net.Isolate(a, tc.ids...)
				case 1:
					if a != b {
						tc.net.SetDrop(a, b, 0.3)
					}
				case 2:
					tc.stop(a)
					time.Sleep(time.Duration(100+rng.Intn(400)) * time.Millisecond)
					tc.start(a)
				case 3:
					tc.net.Heal()
				}
				time.Sleep(time.Duration(200+rng.Intn(500)) * time.Millisecond)
				tc.net.Heal()
			}
			tc.net.Heal()
			time.Sleep(500 * time.Millisecond)
			close(stop)
			wg.Wait()

			for p := int32(0); p < 2; p++ {
				tp := cluster.TopicPartition{Topic: "t", Partition: p}
				if len(acked[p]) < 10 {
					t.Fatalf("partition %d: only %d acknowledged writes; the test proves little", p, len(acked[p]))
				}
				var logs []map[int64]int64
				for _, id := range tc.ids {
					n := tc.node(id)
					var got map[int64]int64
					waitFor(t, 15*time.Second, "read", func() bool {
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						defer cancel()
						var err error
						got, _, err = readAll(ctx, n, tp)
						return err == nil
					})
					for _, a := range acked[p] {
						if got[a.off] != a.v {
							t.Fatalf("node %d partition %d: acknowledged %d at offset %d, found %d", id, p, a.v, a.off, got[a.off])
						}
					}
					seen := map[int64]int64{}
					for off, v := range got {
						if prev, dup := seen[v]; dup {
							t.Fatalf("node %d partition %d: value %d at offsets %d and %d", id, p, v, prev, off)
						}
						seen[v] = off
					}
					logs = append(logs, got)
				}
				// Replicas agree (the read is linearizable, so all see the
				// same committed prefix; compare the common offsets).
				for off, v := range logs[0] {
					for i := 1; i < len(logs); i++ {
						if w, ok := logs[i][off]; ok && w != v {
							t.Fatalf("partition %d offset %d: node %d has %d, node %d has %d", p, off, tc.ids[0], v, tc.ids[i], w)
						}
					}
				}
				t.Logf("partition %d: %d acknowledged", p, len(acked[p]))
			}
		})
	}
}
