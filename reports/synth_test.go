package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// synthOptions shapes a synthetic run directory: a queue-workload history
// with nemesis windows, and a results.json the test chooses.
type synthOptions struct {
	Ops         int // client operations (each an invoke and a completion)
	Concurrency int
	Keys        int
	Seed        uint64
	// Nemesis lists fault families to cycle through: kill, pause,
	// partition, loss, delay; start adds a staggered start at t=0.
	Nemesis []string
	// NemesisEvery is the number of client operations between nemesis
	// actions.
	NemesisEvery int
	// Conflicts poisons polls: at these (key, offset) pairs one poll
	// returns a different value, as an inconsistent-offsets bug would.
	Conflicts []synthConflict
	// Results is written verbatim as results.json when not nil; it may
	// refer to the returned synthRun's op indices.
	Results func(r *synthRun) any
	Name    string
	// RecordNodes sets "node" on client completions (n1..n3, by process),
	// as a harness that records the answering node does.
	RecordNodes bool
}

type synthConflict struct {
	Key    string
	Offset int64
}

// synthRun describes what the generator wrote, for tests to point at.
type synthRun struct {
	Dir string
	// AckedSends are ok send completions: index, key, offset, value.
	AckedSends []synthSend
	// ConflictPolls are the indices of the poisoned polls.
	ConflictPolls []int64
	Events        int
}

type synthSend struct {
	Index  int64
	Key    string
	Offset int64
	Value  int64
}

// writeSyntheticRun writes dir/{test.json,history.jsonl,results.json,
// chaos.log,n1..n3/chronik-server.log}. Times advance in rounds: every
// process invokes once per round and completes after a random latency, so
// each process has one operation in flight and times never go backwards.
func writeSyntheticRun(tb testing.TB, dir string, o synthOptions) *synthRun {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 6
	}
	if o.Keys == 0 {
		o.Keys = 4
	}
	if o.NemesisEvery == 0 {
		o.NemesisEvery = max(o.Ops/8, 10)
	}
	if o.Name == "" {
		o.Name = "queue"
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	run := &synthRun{Dir: dir}
	var idx int64
	emit := func(op history.Op) int64 {
		op.Index = idx
		if op.Value == nil {
			op.Value = json.RawMessage("null")
		}
		b, err := json.Marshal(op)
		if err != nil {
			tb.Fatal(err)
		}
		bw.Write(b)
		bw.WriteByte('\n')
		idx++
		return op.Index
	}
	keys := make([]string, o.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("t0/%d", i)
	}
	logs := map[string][]history.Record{}
	nextValue := map[string]int64{}
	conflict := map[synthConflict]bool{}
	for _, c := range o.Conflicts {
		conflict[c] = true
	}
	procs := make([]int, o.Concurrency)
	for i := range procs {
		procs[i] = i
	}
	nextProc := o.Concurrency
	nodes := []string{"n1", "n2", "n3"}
	var t time.Duration = time.Millisecond
	if len(o.Nemesis) > 0 && o.Nemesis[0] == "start" {
		for _, n := range nodes {
			v, _ := json.Marshal(map[string]any{"nodes": []string{n}, "verified": map[string]any{"ready": true}})
			emit(history.Op{Time: t, Process: history.Nemesis(), Type: history.Invoke, F: "start", Value: v})
			t += 30 * time.Millisecond
			emit(history.Op{Time: t, Process: history.Nemesis(), Type: history.Info, F: "start", Value: v})
		}
	}
	faults := []string{}
	for _, n := range o.Nemesis {
		if n != "start" {
			faults = append(faults, n)
		}
	}
	startF := map[string][2]string{"kill": {"kill", "restart"}, "pause": {"pause", "resume"},
		"partition": {"partition", "heal"}, "loss": {"loss-start", "loss-stop"}, "delay": {"delay-start", "delay-stop"}}
	active := ""
	var activeNodes []string
	faultN := 0
	done := 0
	for done < o.Ops {
		// Nemesis action between rounds.
		if len(faults) > 0 && done/o.NemesisEvery > faultN {
			faultN++
			var f string
			if active == "" {
				active = faults[(faultN/2)%len(faults)]
				activeNodes = []string{nodes[rng.IntN(len(nodes))]}
				f = startF[active][0]
			} else {
				f = startF[active][1]
			}
			v, _ := json.Marshal(map[string]any{"nodes": activeNodes})
			emit(history.Op{Time: t, Process: history.Nemesis(), Type: history.Invoke, F: f, Value: v})
			t += 5 * time.Millisecond
			vi, _ := json.Marshal(map[string]any{"nodes": activeNodes, "verified": map[string]any{f: true}})
			emit(history.Op{Time: t, Process: history.Nemesis(), Type: history.Info, F: f, Value: vi})
			if f == startF[active][1] {
				active = ""
			}
		}
		type pending struct {
			at       time.Duration
			op       history.Op
			seq      int
			poisoned bool
		}
		var evs []pending
		for pi := range procs {
			if done >= o.Ops {
				break
			}
			done++
			p := procs[pi]
			inv := t + time.Duration(rng.IntN(2000))*time.Microsecond
			lat := time.Duration(1+rng.ExpFloat64()*3000) * time.Microsecond
			if active != "" {
				lat *= 4
			}
			outcome := history.Ok
			r := rng.Float64()
			switch {
			case active != "" && r < 0.08:
				outcome = history.Info
				lat = 500 * time.Millisecond
			case active != "" && r < 0.15:
				outcome = history.Fail
			case r < 0.004:
				outcome = history.Info
			}
			key := keys[rng.IntN(len(keys))]
			var invOp, compOp history.Op
			poisoned := false
			if rng.IntN(3) > 0 {
				nextValue[key]++
				v := nextValue[key]
				invOp = history.Op{Process: history.Client(p), Type: history.Invoke, F: "send"}
				if err := invOp.SetMops([]history.Mop{history.Send(key, v)}); err != nil {
					tb.Fatal(err)
				}
				compOp = history.Op{Process: history.Client(p), Type: outcome, F: "send"}
				m := history.Mop{F: history.FSend, Key: key, Value: v, Done: true}
				if outcome == history.Ok {
					off := int64(len(logs[key]))
					m.Offset = &off
					logs[key] = append(logs[key], history.Record{Offset: off, Value: v})
				}
				if err := compOp.SetMops([]history.Mop{m}); err != nil {
					tb.Fatal(err)
				}
			} else {
				invOp = history.Op{Process: history.Client(p), Type: history.Invoke, F: "poll"}
				if err := invOp.SetMops([]history.Mop{history.Poll()}); err != nil {
					tb.Fatal(err)
				}
				compOp = history.Op{Process: history.Client(p), Type: outcome, F: "poll"}
				m := history.Mop{F: history.FPoll, Done: true, Polls: map[string][]history.Record{}}
				if outcome == history.Ok {
					l := logs[key]
					from := max(0, len(l)-1-rng.IntN(4))
					for c := range conflict {
						if c.Key == key && c.Offset < int64(len(l)) && c.Offset < int64(from) {
							from = int(c.Offset)
						}
					}
					rs := append([]history.Record(nil), l[from:]...)
					for i := range rs {
						c := synthConflict{key, rs[i].Offset}
						if conflict[c] {
							delete(conflict, c)
							rs[i].Value = 1_000_000 + rs[i].Value
							poisoned = true
						}
					}
					m.Polls[key] = rs
				}
				if err := compOp.SetMops([]history.Mop{m}); err != nil {
					tb.Fatal(err)
				}
			}
			if outcome != history.Ok {
				compOp.Error = map[history.Type]string{history.Fail: "NOT_LEADER_FOR_PARTITION", history.Info: "context deadline exceeded"}[outcome]
			}
			if o.RecordNodes && outcome != history.Info {
				compOp.Node = nodes[p%len(nodes)]
			}
			evs = append(evs, pending{at: inv, op: invOp, seq: len(evs)}, pending{at: inv + lat, op: compOp, seq: len(evs) + 1, poisoned: poisoned})
			if outcome == history.Info {
				procs[pi] = nextProc
				nextProc++
			}
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
		for _, e := range evs {
			e.op.Time = e.at
			i := emit(e.op)
			if e.op.Type == history.Ok && e.op.F == "send" {
				ms, _ := e.op.Mops()
				run.AckedSends = append(run.AckedSends, synthSend{Index: i, Key: ms[0].Key, Offset: *ms[0].Offset, Value: ms[0].Value})
			}
			if e.poisoned {
				run.ConflictPolls = append(run.ConflictPolls, i)
			}
			if e.at > t {
				t = e.at
			}
		}
		t += time.Duration(rng.IntN(3000)) * time.Microsecond
	}
	if active != "" {
		v, _ := json.Marshal(map[string]any{"nodes": activeNodes})
		emit(history.Op{Time: t, Process: history.Nemesis(), Type: history.Invoke, F: startF[active][1], Value: v})
		emit(history.Op{Time: t + time.Millisecond, Process: history.Nemesis(), Type: history.Info, F: startF[active][1], Value: v})
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	run.Events = int(idx)

	nem := o.Nemesis
	if nem == nil {
		nem = []string{}
	}
	cfg := map[string]any{
		"name": o.Name, "seed": o.Seed, "nodes": nodes, "nemesis": nem, "workload": "queue",
		"time_limit": (t + time.Second).Round(time.Second).String(), "broker_args": []string{},
		"concurrency": o.Concurrency, "rate": 200,
		"command_line": fmt.Sprintf("chaos run --nodes 3 --workload queue --nemesis %s --seed %d --time-limit %s", strings.Join(nem, ","), o.Seed, (t + time.Second).Round(time.Second)),
	}
	writeJSON(tb, filepath.Join(dir, "test.json"), cfg)
	if o.Results != nil {
		writeJSON(tb, filepath.Join(dir, "results.json"), o.Results(run))
	}
	for i, n := range nodes {
		nd := filepath.Join(dir, n)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			tb.Fatal(err)
		}
		msg := fmt.Sprintf("time=2026-11-27T10:00:0%dZ level=INFO msg=\"raft: became follower\" node=%d\n", i, i+1)
		if err := os.WriteFile(filepath.Join(nd, "chronik-server.log"), []byte(msg), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "chaos.log"), []byte("time=2026-11-27T10:00:00Z level=INFO msg=\"run started\"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return run
}

func writeJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
}
