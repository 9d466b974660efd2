package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kgo"
)

// drainProcess is the first process number of the final reads; far above
// any number a client slot reaches, so never a reused process.
const drainProcess = 1_000_000

// drainStall ends the drain of a key that makes no progress for this long
// (a lost write can never be read; waiting longer would not help).
const drainStall = 10 * time.Second

// txnDrainStall is drainStall for the txn workload: a transaction left
// open at the end (its producer's last abort or fence did not get
// through) holds the last stable offset back until the broker's
// transaction timeout aborts it, so the final reads wait that long and a
// margin before calling a key stuck.
const txnDrainStall = txnTimeout + drainStall

// DrainStats says how far the final reads got.
type DrainStats struct {
	Keys, CaughtUp int
	Reads          int
	Took           time.Duration
}

// Drain performs the final reads after the heal (Jepsen's final polls):
// every key ever written is read from offset 0 until the read reaches the
// key's highest acknowledged offset (and, for keys with only indefinite
// writes, the high watermark), bounded by ctx and by drainStall per key.
// Everything it reads is recorded, so that the checkers can tell lost
// writes from unseen ones.
func Drain(ctx context.Context, cfg WorkloadConfig, rec *Recorder) (DrainStats, error) {
	start := time.Now()
	var st DrainStats
	var err error
	switch cfg.Kind {
	case WorkloadQueue, WorkloadTxn:
		st, err = drainQueue(ctx, cfg, rec)
	case WorkloadLog:
		st, err = drainLog(ctx, cfg, rec)
	default:
		err = fmt.Errorf("drain: unknown workload %q", cfg.Kind)
	}
	st.Took = time.Since(start)
	return st, err
}

func drainQueue(ctx context.Context, cfg WorkloadConfig, rec *Recorder) (DrainStats, error) {
	keys := cfg.Keys.Used()
	acked := cfg.Keys.AckedOffsets()
	st := DrainStats{Keys: len(keys)}
	c := &queueClient{procBase: procBase{proc: drainProcess, n: 1, cfg: cfg, rec: rec, rng: rand.New(rand.NewPCG(0, 0))}}
	defer c.close()

	names := keyNames(keys)
	rec.Invoke(c.proc, history.FAssign, names)
	parts := map[string]map[int32]kgo.Offset{}
	for _, k := range keys {
		if parts[k.Topic] == nil {
			parts[k.Topic] = map[int32]kgo.Offset{}
		}
		parts[k.Topic][k.Partition] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(parts)}
	if cfg.Kind == WorkloadTxn {
		// Transactions write records that are aborted or not yet
		// decided: the final reads see what a read_committed consumer
		// may see, like every reader of the workload.
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	err := c.newConsumer(opts...)
	rec.Complete(c.proc, opType(err), history.FAssign, names, err)
	if err != nil {
		return st, fmt.Errorf("drain: %w", err)
	}
	seen := map[string]int64{}
	progress := time.Now()
	stall := drainStall
	if cfg.Kind == WorkloadTxn {
		stall = txnDrainStall
	}
	for ctx.Err() == nil && time.Since(progress) < stall {
		if caughtUp(seen, acked) == len(acked) {
			break
		}
		rec.Invoke(c.proc, history.FPoll, []history.Mop{history.Poll()})
		polls, perr := pollOnce(ctx, c.consumer, time.Second)
		st.Reads++
		if len(polls) == 0 && perr != nil {
			rec.Complete(c.proc, history.Fail, history.FPoll, []history.Mop{history.Poll()}, perr)
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		m := history.Poll()
		m.Done, m.Polls = true, polls
		rec.Complete(c.proc, history.Ok, history.FPoll, []history.Mop{m}, nil)
		for k, rs := range polls {
			if len(rs) > 0 {
				progress = time.Now()
				if o, ok := seen[k]; !ok || rs[len(rs)-1].Offset > o {
					seen[k] = rs[len(rs)-1].Offset
				}
			}
		}
	}
	st.CaughtUp = caughtUp(seen, acked)
	// Final offset reads: every group's acknowledged commits must have
	// survived the faults (checkers/offsets).
	for slot := range cfg.Concurrency {
		c.slot = slot
		for try := 0; try < 5 && ctx.Err() == nil; try++ {
			if c.readOffsets(ctx) {
				break
			}
			sleepCtx(ctx, 500*time.Millisecond)
		}
	}
	return st, nil
}

func caughtUp(seen map[string]int64, acked map[Key]int64) int {
	n := 0
	for k, o := range acked {
		if s, ok := seen[k.String()]; ok && s >= o {
			n++
		}
	}
	return n
}

func drainLog(ctx context.Context, cfg WorkloadConfig, rec *Recorder) (DrainStats, error) {
	keys := cfg.Keys.Used()
	acked := cfg.Keys.AckedOffsets()
	st := DrainStats{Keys: len(keys)}
	c := &logClient{procBase: procBase{proc: drainProcess, n: 1, cfg: cfg, rec: rec, rng: rand.New(rand.NewPCG(0, 0))}}
	defer c.close()
	for _, k := range keys {
		target, hasAck := acked[k]
		if !hasAck {
			target = -1
		}
		from := int64(0)
		progress := time.Now()
		done := false
		for ctx.Err() == nil && time.Since(progress) < drainStall {
			recs, hw, ok := c.read(ctx, k, from)
			st.Reads++
			if !ok {
				sleepCtx(ctx, 200*time.Millisecond)
				continue
			}
			if len(recs) > 0 {
				from = recs[len(recs)-1].Offset + 1
				progress = time.Now()
			}
			if from >= hw && from > target {
				done = true
				break
			}
			if len(recs) == 0 {
				sleepCtx(ctx, 200*time.Millisecond)
			}
		}
		if done && hasAck {
			st.CaughtUp++
		}
	}
	return st, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
