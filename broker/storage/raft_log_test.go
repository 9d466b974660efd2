package storage_test

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/storage"
)

func ents(term uint64, lo, hi uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i < hi; i++ {
		out = append(out, &pb.Entry{Index: new(i), Term: new(term), Data: []byte{byte(i)}})
	}
	return out
}

func openLog(t *testing.T, dir string) (*storage.DB, *storage.RaftLog) {
	t.Helper()
	db, err := storage.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := storage.OpenRaftLog(db, 9)
	if err != nil {
		t.Fatal(err)
	}
	return db, l
}

func terms(t *testing.T, l *storage.RaftLog, lo, hi uint64) []uint64 {
	t.Helper()
	es, err := l.Entries(lo, hi, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for i, e := range es {
		if e.GetIndex() != lo+uint64(i) {
			t.Fatalf("entry %d has index %d", lo+uint64(i), e.GetIndex())
		}
		out = append(out, e.GetTerm())
	}
	return out
}

func TestRaftLog(t *testing.T) {
	tests := []struct {
		name  string
		run   func(t *testing.T, l *storage.RaftLog)
		first uint64
		last  uint64
		terms []uint64 // of entries first..last after reopening
	}{
		{"bootstrap", func(t *testing.T, l *storage.RaftLog) {}, 2, 1, nil},
		{"append", func(t *testing.T, l *storage.RaftLog) {
			if err := l.Save(nil, ents(1, 2, 6), nil, nil, true); err != nil {
				t.Fatal(err)
			}
		}, 2, 5, []uint64{1, 1, 1, 1}},
		{"conflicting tail truncated", func(t *testing.T, l *storage.RaftLog) {
			if err := l.Save(nil, ents(1, 2, 8), nil, nil, true); err != nil {
				t.Fatal(err)
			}
			// A new leader (term 2) replaces the tail: raft persists the
			// term with the entries.
			if err := l.Save(&pb.HardState{Term: new(uint64(2)), Commit: new(uint64(1))}, ents(2, 4, 5), nil, nil, true); err != nil {
				t.Fatal(err)
			}
		}, 2, 4, []uint64{1, 1, 2}},
		{"compact", func(t *testing.T, l *storage.RaftLog) {
			// Only applied, hence committed, entries are compacted.
			if err := l.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(uint64(8))}, ents(1, 2, 10), nil, nil, true); err != nil {
				t.Fatal(err)
			}
			if err := l.Compact(6, &pb.ConfState{Voters: []uint64{1}}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Entries(5, 7, 1<<30); !errors.Is(err, raft.ErrCompacted) {
				t.Fatalf("entries below the compaction point: %v", err)
			}
			if term, err := l.Term(6); err != nil || term != 1 {
				t.Fatalf("term at compaction point %d %v", term, err)
			}
		}, 7, 9, []uint64{1, 1, 1}},
		{"snapshot replaces the log", func(t *testing.T, l *storage.RaftLog) {
			if err := l.Save(nil, ents(1, 2, 10), nil, nil, true); err != nil {
				t.Fatal(err)
			}
			meta := &pb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(3)), ConfState: &pb.ConfState{Voters: []uint64{1}}}
			if err := l.Save(&pb.HardState{Term: new(uint64(3)), Commit: new(uint64(20))}, ents(3, 21, 23), meta, nil, true); err != nil {
				t.Fatal(err)
			}
		}, 21, 22, []uint64{3, 3}},
		{"beyond the tail cache", func(t *testing.T, l *storage.RaftLog) {
			if err := l.Save(nil, ents(1, 2, 3002), nil, nil, true); err != nil {
				t.Fatal(err)
			}
			if got := terms(t, l, 2, 3002); len(got) != 3000 {
				t.Fatalf("read %d entries", len(got))
			}
		}, 2, 3001, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, l := openLog(t, dir)
			if !l.IsNew() {
				t.Fatal("fresh log not new")
			}
			if err := l.Bootstrap([]uint64{1, 2, 3}); err != nil {
				t.Fatal(err)
			}
			tt.run(t, l)
			check := func(when string, l *storage.RaftLog) {
				t.Helper()
				first, _ := l.FirstIndex()
				last, _ := l.LastIndex()
				if first != tt.first || last != tt.last {
					t.Fatalf("%s: first %d last %d, want %d %d", when, first, last, tt.first, tt.last)
				}
				if tt.terms != nil {
					got := terms(t, l, first, last+1)
					if len(got) != len(tt.terms) {
						t.Fatalf("%s: terms %v, want %v", when, got, tt.terms)
					}
					for i := range got {
						if got[i] != tt.terms[i] {
							t.Fatalf("%s: terms %v, want %v", when, got, tt.terms)
						}
					}
				}
				if _, cs, _ := l.InitialState(); len(cs.GetVoters()) == 0 {
					t.Fatalf("%s: conf state lost", when)
				}
			}
			// The in-memory view (tail cache) and the reopened store agree.
			check("live", l)
			db.Close()
			db, l = openLog(t, dir)
			defer db.Close()
			check("reopened", l)
		})
	}
}
