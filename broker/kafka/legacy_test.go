package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestKgoOldProtocolVersions drives the old request versions with a real
// client: franz-go pinned to old Kafka releases sends Produce v0-2 with
// message sets (magic 0 for 0.8-0.9, magic 1 for 0.10, compressed by
// every codec those formats allow), reads back through Fetch v0-3 (which
// must down-convert, franz-go checking every message's CRC), finds offsets
// with ListOffsets v0 (before 0.10.1) and Metadata v0 (0.8), and, from
// 0.9, commits and resumes a consumer group with the old group APIs.
func TestKgoOldProtocolVersions(t *testing.T) {
	tests := []struct {
		name     string
		versions *kversion.Versions
		codec    kgo.CompressionCodec
		group    bool
	}{
		{"0.8.0 uncompressed", kversion.V0_8_0(), kgo.NoCompression(), false},
		{"0.8.2 gzip", kversion.V0_8_2(), kgo.GzipCompression(), false},
		{"0.9.0 snappy group", kversion.V0_9_0(), kgo.SnappyCompression(), true},
		{"0.10.0 lz4 group", kversion.V0_10_0(), kgo.Lz4Compression(), true},
		{"0.10.2 gzip group", kversion.V0_10_2(), kgo.GzipCompression(), true},
		{"0.11.0 snappy (first RecordBatch versions)", kversion.V0_11_0(), kgo.SnappyCompression(), true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, fb, addr := startServer(t, nil)
			used := recordVersions(srv)
			defer func() {
				// The pin must have reached the wire: every request of
				// these keys at the pinned release's newest version.
				for _, key := range []int16{0, 1, 2, 3, 8, 9} {
					want, ok := tc.versions.LookupMaxKeyVersion(key)
					if got := used(key); ok && (len(got) == 0 || slices.Max(got) != want) && (key < 8 || tc.group) {
						t.Errorf("%s versions used %v, want %d", kmsg.NameForKey(key), got, want)
					}
				}
			}()
			topic := fmt.Sprintf("old-%d", i)
			fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: topic, Partitions: 2}}, false)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			pin := kgo.MaxVersions(tc.versions)
			prod := newClient(t, addr, pin, kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(tc.codec),
				kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
			const n = 200
			for j := range n {
				r := &kgo.Record{Key: []byte(fmt.Sprint(j % 7)), Value: []byte(fmt.Sprint(j)), Timestamp: time.UnixMilli(int64(1_000_000 + j))}
				if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("produce %d: %v", j, err)
				}
			}
			if !tc.group {
				cons := newClient(t, addr, pin, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				checkConsumed(ctx, t, cons, n, tc.versions)
				return
			}
			// A group that commits everything, then a second member that
			// must start at the committed offsets: nothing more to read.
			cons := newClient(t, addr, pin, kgo.ConsumeTopics(topic), kgo.ConsumerGroup("old-"+topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
			checkConsumed(ctx, t, cons, n, tc.versions)
			if err := cons.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
			cons.Close()
			prod.ProduceSync(ctx, &kgo.Record{Value: []byte("after")})
			again := newClient(t, addr, pin, kgo.ConsumeTopics(topic), kgo.ConsumerGroup("old-"+topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			fs := again.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatalf("resume: %v", err)
			}
			if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "after" {
				t.Fatalf("resumed group read %d records (first %q), want only the one produced after the commit", len(recs), string(recs[0].Value))
			}
		})
	}
}

// recordVersions notes the version of every request the server handles
// from now on; the returned function lists those seen for a key.
func recordVersions(s *Server) func(key int16) []int16 {
	var mu sync.Mutex
	seen := map[int16][]int16{}
	for key := range int16(50) {
		if _, ok := lookupKey(key); !ok {
			continue
		}
		s.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(seen[key], req.GetVersion()) {
				seen[key] = append(seen[key], req.GetVersion())
			}
			return nil, nil, false
		})
	}
	return func(key int16) []int16 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen[key])
	}
}

// checkConsumed reads n records and checks values, keys and, where the
// format has them (magic 1+), timestamps.
func checkConsumed(ctx context.Context, t *testing.T, cl *kgo.Client, n int, v *kversion.Versions) {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(seen), n, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			t.Fatalf("fetch: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var j int
			fmt.Sscan(string(r.Value), &j)
			if string(r.Key) != fmt.Sprint(j%7) {
				t.Errorf("record %q has key %q", r.Value, r.Key)
			}
			fetchMax, _ := v.LookupMaxKeyVersion(1)
			if want := int64(1_000_000 + j); fetchMax >= 2 && r.Timestamp.UnixMilli() != want {
				t.Errorf("record %q timestamp %d, want %d", r.Value, r.Timestamp.UnixMilli(), want)
			}
			seen[string(r.Value)] = true
		})
	}
}
