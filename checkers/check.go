package checkers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/kafka"
	"github.com/chronik-chaos/chronik/checkers/linear"
	"github.com/chronik-chaos/chronik/checkers/offsets"
	"github.com/chronik-chaos/chronik/checkers/stats"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

// ErrMalformed is returned (wrapped) when the history breaks the contract;
// the CLI maps it to the usage-error exit code. It is history.ErrMalformed.
var ErrMalformed = history.ErrMalformed

// DefaultTimeLimit is the check budget when Options.TimeLimit is zero.
const DefaultTimeLimit = 5 * time.Minute

// Options tune Check.
type Options struct {
	// TimeLimit bounds the whole check. Whatever has not been decided when
	// it runs out is "unknown". Zero means DefaultTimeLimit.
	TimeLimit time.Duration
	// SegmentTimeLimit bounds Porcupine's search of each partition
	// segment (an unfinished one is "unknown"); zero means
	// linear.DefaultSegmentTimeLimit.
	SegmentTimeLimit time.Duration
	// OutDir receives linearizability.html when some partition is not
	// linearizable; empty writes no file. Check never writes results.json
	// itself (see WriteResults).
	OutDir string
	// MaxExamples caps the examples per anomaly name; zero means 20.
	MaxExamples int
	// Kafka tunes the Kafka analysis (MaxExamples there defaults to the
	// value above).
	Kafka kafka.Options
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// Check streams the history at path through every checker and returns
// their results. A malformed history returns an error wrapping
// ErrMalformed that names the line; an I/O failure returns another error.
// Running out of time is not an error: the undecided checkers report
// "unknown".
func Check(ctx context.Context, path string, opts Options) (*Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	r, err := CheckReader(ctx, f, opts)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	r.History = path
	return r, nil
}

// CheckReader is Check over an already open history stream.
func CheckReader(ctx context.Context, in io.Reader, opts Options) (*Results, error) {
	start := time.Now()
	if opts.TimeLimit <= 0 {
		opts.TimeLimit = DefaultTimeLimit
	}
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = 20
	}
	if opts.Kafka.MaxExamples <= 0 {
		opts.Kafka.MaxExamples = opts.MaxExamples
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.TimeLimit)
	defer cancel()

	var (
		kc = kafka.New(opts.Kafka)
		lc = linear.New()
		sc = stats.New()
		oc = offsets.New(offsets.Options{MaxExamples: opts.MaxExamples})
		ft = windows.NewTracker()
	)
	// Decoding is half the work: history.Scan decodes lines on every core
	// while this goroutine pairs them and feeds the checkers.
	var n int64
	timedOut := false
	lines, err := history.Scan(ctx, in, history.ScanOptions{}, func(batch []history.Entry) error {
		for i := range batch {
			e := &batch[i]
			kc.Observe(e)
			lc.Observe(e)
			sc.Observe(e)
			oc.Observe(e)
			ft.Observe(e)
		}
		n += int64(len(batch))
		return ctx.Err()
	})
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			return nil, err
		}
		timedOut = true
	}
	log.Info("history read", "entries", n, "elapsed", time.Since(start))
	res := &Results{Lines: n}
	if !timedOut {
		res.Lines = lines
	}
	ws := ft.Windows()
	if timedOut {
		// The history was not read to the end: nothing can be decided
		// about the rest, and a partial history would give false alarms
		// (unseen, lost writes), so every checker is unknown.
		msg := fmt.Sprintf("time limit %v reached after %d lines", opts.TimeLimit, n)
		res.Add(NameKafka, &kafka.Result{Valid: verdict.Unknown, Errors: map[string]*kafka.Anomaly{}, Error: msg})
		res.Add(NameLinearizable, &linear.Result{Valid: verdict.Unknown, Partitions: map[string]string{}, Error: msg})
		res.Add(NameOffsets, &offsets.Result{Findings: verdict.Findings{Valid: verdict.Unknown, Error: msg}})
		res.Add(NameStats, sc.Result(ws))
		res.ElapsedS = time.Since(start).Seconds()
		return res, nil
	}
	res.Add(NameStats, sc.Result(ws))
	// The Kafka analysis (a few independent steps) runs beside the
	// linearizability search, which uses every core it can get.
	kres := make(chan *kafka.Result, 1)
	go func() { kres <- kc.Result(ctx) }()
	res.Add(NameLinearizable, lc.Result(ctx, linear.Options{OutDir: opts.OutDir, Windows: ws, MaxExamples: opts.MaxExamples, SegmentTimeLimit: opts.SegmentTimeLimit}))
	log.Info("linearizability done", "elapsed", time.Since(start))
	res.Add(NameKafka, <-kres)
	// Group offsets are few registers: cheap after the rest.
	res.Add(NameOffsets, oc.Result(ctx))
	log.Info("offsets check done", "elapsed", time.Since(start))
	log.Info("kafka analysis done", "elapsed", time.Since(start))
	res.ElapsedS = time.Since(start).Seconds()
	return res, nil
}
