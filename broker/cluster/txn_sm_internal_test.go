package cluster

import (
	"errors"
	"testing"
)

// The coordinator's state machine, step by step: each case is a sequence
// of commands applied to a fresh __meta state, with the error or state
// each must produce.
func TestTxnStateMachine(t *testing.T) {
	tp := TopicPartition{Topic: "t"}
	type step struct {
		cmd   txnCommand
		err   error
		state string
		epoch int16
		busy  bool
		done  bool
	}
	init := txnCommand{Kind: txnInit, ID: "x", ProducerID: -1, Epoch: -1, TimeoutMs: 1000}
	at := func(c txnCommand, epoch int16, now int64) txnCommand {
		c.ProducerID, c.Epoch, c.NowMs = 1, epoch, now
		return c
	}
	add := txnCommand{Kind: txnAdd, ID: "x", Partitions: []TopicPartition{tp}}
	end := func(commit bool) txnCommand { return txnCommand{Kind: txnEnd, ID: "x", Commit: commit} }
	complete := func(serial uint64) txnCommand { return txnCommand{Kind: txnComplete, ID: "x", Serial: serial} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"commit, retries, next transaction", []step{
			{cmd: init, state: TxnEmpty, epoch: 0},
			{cmd: at(add, 0, 1), state: TxnOngoing, epoch: 0},
			{cmd: at(end(true), 0, 2), state: TxnPrepareCommit},
			{cmd: at(end(true), 0, 3), state: TxnPrepareCommit},              // a retry waits for the markers
			{cmd: at(end(false), 0, 3), err: ErrInvalidTxnState},             // the other decision
			{cmd: at(add, 0, 4), busy: true},                                 // markers not written yet
			{cmd: complete(1), state: TxnCompleteCommit},                     // serial 1
			{cmd: complete(1)},                                               // a duplicate changes nothing
			{cmd: at(end(true), 0, 5), state: TxnCompleteCommit, done: true}, // a late retry
			{cmd: at(add, 0, 6), state: TxnOngoing},                          // serial 2
		}},
		{"the producer is checked", []step{
			{cmd: init},
			{cmd: txnCommand{Kind: txnAdd, ID: "x", ProducerID: 2, Partitions: []TopicPartition{tp}}, err: ErrInvalidProducerIDMapping},
			{cmd: txnCommand{Kind: txnAdd, ID: "y", ProducerID: 1, Partitions: []TopicPartition{tp}}, err: ErrInvalidProducerIDMapping},
			{cmd: at(add, 1, 1), err: ErrProducerFenced},
			{cmd: at(end(true), 0, 1), err: ErrInvalidTxnState}, // nothing ongoing
			{cmd: at(txnCommand{Kind: txnInit, ID: "x", TimeoutMs: 1000}, 5, 1), err: ErrProducerFenced},
		}},
		{"a new instance fences an ongoing transaction", []step{
			{cmd: init},
			{cmd: at(add, 0, 1), state: TxnOngoing},
			{cmd: init, state: TxnPrepareAbort, epoch: 1, busy: true},
			{cmd: at(end(true), 0, 2), err: ErrProducerFenced},
			{cmd: complete(1), state: TxnCompleteAbort, epoch: 1},
			{cmd: init, state: TxnEmpty, epoch: 2},
		}},
		{"timeout, then the producer recovers its epoch (KIP-588)", []step{
			{cmd: init},
			{cmd: at(add, 0, 1), state: TxnOngoing},
			{cmd: txnCommand{Kind: txnTimeout, ID: "x", Serial: 1, NowMs: 500}}, // not expired
			{cmd: txnCommand{Kind: txnTimeout, ID: "x", Serial: 1, NowMs: 2000}, state: TxnPrepareAbort, epoch: 1},
			{cmd: complete(1), state: TxnCompleteAbort, epoch: 1},
			{cmd: at(add, 0, 3), err: ErrProducerFenced},
			{cmd: at(txnCommand{Kind: txnInit, ID: "x", TimeoutMs: 1000}, 0, 3), state: TxnCompleteAbort, epoch: 1},
		}},
		{"the next transaction completes the prepared one (Completes)", []step{
			{cmd: init},
			{cmd: at(add, 0, 1)},
			{cmd: at(end(false), 0, 2), state: TxnPrepareAbort},
			{cmd: func() txnCommand { c := at(add, 0, 3); c.Completes = 1; return c }(), state: TxnOngoing},
		}},
		{"offsets need their group and become the group's with the commit", []step{
			{cmd: init},
			{cmd: at(add, 0, 1)},
			{cmd: at(txnCommand{Kind: txnOffsets, ID: "x", Group: "g", Offsets: map[string]map[int32]OffsetCommit{"t": {0: {Offset: 7}}}}, 0, 2), err: ErrInvalidTxnState},
			{cmd: at(txnCommand{Kind: txnAddGroup, ID: "x", Group: "g"}, 0, 2), state: TxnOngoing},
			{cmd: at(txnCommand{Kind: txnOffsets, ID: "x", Group: "g", Offsets: map[string]map[int32]OffsetCommit{"t": {0: {Offset: 7}}}}, 0, 2), state: TxnOngoing},
			{cmd: at(end(true), 0, 3), state: TxnPrepareCommit},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMetaState()
			st.Topics["t"] = &topicMeta{Name: "t", Partitions: 1}
			for i, s := range tt.steps {
				v := st.applyTxn(&s.cmd)
				if err, _ := v.(error); !errors.Is(err, s.err) || (s.err != nil && err == nil) {
					t.Fatalf("step %d (%s): %v, want error %v", i, s.cmd.Kind, v, s.err)
				}
				if s.err != nil {
					continue
				}
				o, _ := v.(txnOutcome)
				if o.Busy != s.busy || o.Done != s.done {
					t.Fatalf("step %d (%s): outcome %+v, want busy %v done %v", i, s.cmd.Kind, o, s.busy, s.done)
				}
				if s.state != "" {
					if got := st.Txns["x"]; got.State != s.state || got.Epoch != s.epoch {
						t.Fatalf("step %d (%s): state %s epoch %d, want %s epoch %d", i, s.cmd.Kind, got.State, got.Epoch, s.state, s.epoch)
					}
				}
			}
		})
	}
	t.Run("commit moves the pending offsets into the group", func(t *testing.T) {
		st := newMetaState()
		st.Topics["t"] = &topicMeta{Name: "t", Partitions: 1}
		for _, c := range []txnCommand{init, at(txnCommand{Kind: txnAddGroup, ID: "x", Group: "g"}, 0, 1),
			at(txnCommand{Kind: txnOffsets, ID: "x", Group: "g", Offsets: map[string]map[int32]OffsetCommit{"t": {0: {Offset: 7}}}}, 0, 1)} {
			if err, ok := st.applyTxn(&c).(error); ok {
				t.Fatal(err)
			}
		}
		if len(st.Offsets["g"]) != 0 {
			t.Fatalf("offsets visible before the commit: %v", st.Offsets)
		}
		c := at(end(true), 0, 2)
		st.applyTxn(&c)
		if st.Offsets["g"]["t"][0].Offset != 7 {
			t.Fatalf("offsets after the commit decision: %v", st.Offsets)
		}
	})
}
