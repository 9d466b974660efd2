package kafka

import (
	"context"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

func pollOf(polls map[string][]history.Record) history.Mop {
	m := history.Poll()
	m.Done, m.Polls = true, polls
	return m
}

func recs(pairs ...int64) []history.Record {
	var out []history.Record
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, history.Record{Offset: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// TestTxnRepeatedPollsKeepKeysApart is a transaction whose polls return
// two keys twice: each key's reads must stay its own (a merge once filed
// the second poll of "b" together with the moved records of "a", which
// made correct histories of the txn workload report unknown values and
// inconsistent offsets).
func TestTxnRepeatedPollsKeepKeysApart(t *testing.T) {
	cases := []struct {
		name  string
		polls []map[string][]history.Record
	}{
		{"two keys twice", []map[string][]history.Record{
			{"a": recs(0, 1), "b": recs(0, 10)},
			{"a": recs(1, 2), "b": recs(1, 11)},
		}},
		{"three keys, middle one twice", []map[string][]history.Record{
			{"a": recs(0, 1), "b": recs(0, 10), "c": recs(0, 20)},
			{"b": recs(1, 11)},
			{"a": recs(1, 2), "c": recs(1, 21)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{})
			i := int64(0)
			for _, s := range []struct {
				key      string
				off, val int64
			}{{"a", 0, 1}, {"a", 1, 2}, {"b", 0, 10}, {"b", 1, 11}, {"c", 0, 20}, {"c", 1, 21}} {
				c.Observe(sendOk(i, 0, s.key, s.off, s.val))
				i++
			}
			var mops []history.Mop
			for _, p := range tc.polls {
				mops = append(mops, pollOf(p))
			}
			c.Observe(&history.Entry{Op: history.Op{Index: i, Process: history.Client(1), Type: history.Ok, F: history.FTxn}, Mops: mops})
			r := c.Result(context.Background())
			for _, name := range []string{UnknownValue, InconsistentOffsets, IntPollSkip, IntNonmonotonicPoll} {
				if a := r.Errors[name]; a != nil && a.Count > 0 {
					t.Errorf("%s: %+v", name, a.Examples)
				}
			}
			if r.Valid == verdict.False && r.Errors[Unseen] == nil {
				t.Errorf("valid = %v, errors %v", r.Valid, r.BadErrorTypes)
			}
		})
	}
}

// TestTxnRewoundPollFatalOnlyWhenCommitted: a transaction whose consumer
// reads a key backwards is fatal when it committed, allowed when it did
// not (a rebalance mid-transaction rewinds the consumer and aborts it).
func TestTxnRewoundPollFatalOnlyWhenCommitted(t *testing.T) {
	cases := []struct {
		typ       history.Type
		wantFatal int
	}{
		{history.Ok, 1},
		{history.Info, 0},
		{history.Fail, 0},
	}
	for _, tc := range cases {
		t.Run(string(tc.typ), func(t *testing.T) {
			c := New(Options{})
			c.Observe(sendOk(0, 0, "a", 0, 1))
			c.Observe(sendOk(1, 0, "a", 1, 2))
			mops := []history.Mop{pollOf(map[string][]history.Record{"a": recs(0, 1, 1, 2)}), pollOf(map[string][]history.Record{"a": recs(0, 1, 1, 2)})}
			c.Observe(&history.Entry{Op: history.Op{Index: 2, Process: history.Client(1), Type: tc.typ, F: history.FTxn}, Mops: mops})
			r := c.Result(context.Background())
			a := r.Errors[IntNonmonotonicPoll]
			if a == nil || a.Count != 1 || a.FatalCount != tc.wantFatal {
				t.Errorf("int-nonmonotonic-poll = %+v, want 1 case, %d fatal", a, tc.wantFatal)
			}
		})
	}
}
