package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceAnswer makes a kfake control function that answers every produce
// request with code for every partition.
func produceAnswer(c *kfake.Cluster, code int16) func(kmsg.Request) (kmsg.Response, error, bool) {
	return func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	}
}

// TestClassifySendAgainstBroker drives one send through franz-go against
// a fake broker answering each kind of outcome, and checks the completion
// type recorded in the history: fail only where the broker definitely did
// not apply the write.
func TestClassifySendAgainstBroker(t *testing.T) {
	cases := []struct {
		name    string
		code    int16 // answered to every produce; 0 = answer normally
		closeIt bool  // close the connection instead of answering
		silent  bool  // never answer
		topic   string
		want    history.Type
	}{
		{name: "ok", want: history.Ok},
		{name: "invalid record", code: kerr.InvalidRecord.Code, want: history.Fail},
		{name: "message too large", code: kerr.MessageTooLarge.Code, want: history.Fail},
		{name: "topic authorization failed", code: kerr.TopicAuthorizationFailed.Code, want: history.Fail},
		{name: "unknown topic or partition from produce", code: kerr.UnknownTopicOrPartition.Code, want: history.Fail},
		{name: "topic missing from metadata, never sent", topic: "no-such-topic", want: history.Fail},
		{name: "not leader", code: kerr.NotLeaderForPartition.Code, want: history.Info},
		{name: "request timed out", code: kerr.RequestTimedOut.Code, want: history.Info},
		{name: "not enough replicas after append", code: kerr.NotEnoughReplicasAfterAppend.Code, want: history.Info},
		{name: "unknown server error", code: kerr.UnknownServerError.Code, want: history.Info},
		{name: "out of order sequence", code: kerr.OutOfOrderSequenceNumber.Code, want: history.Info},
		{name: "connection closed", closeIt: true, want: history.Info},
		{name: "no answer", silent: true, want: history.Info},
	}
	for _, kind := range history.ProducerKinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t0"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var produces atomic.Int64
				c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					produces.Add(1)
					switch {
					case tc.code != 0:
						return produceAnswer(c, tc.code)(req)
					case tc.closeIt:
						return nil, errors.New("drop the connection"), true
					case tc.silent:
						return nil, nil, true
					}
					return nil, nil, false
				})
				var buf bytes.Buffer
				w := history.NewWriter(&buf, time.Now())
				rec := NewRecorder(w, time.Now())
				ks := NewKeyspace(nil, 1, 1, 1, 1000, discard())
				if tc.topic != "" {
					ks.prefix = tc.topic
				}
				p := &procBase{n: 1, rec: rec, rng: SubRand(1, "t"), cfg: WorkloadConfig{
					Seeds: c.ListenAddrs(), OpTimeout: 2 * time.Second, Keys: ks, Log: discard(), Producers: []string{kind},
				}}
				defer func() {
					if p.producer != nil {
						p.producer.Close()
					}
				}()
				got := p.send(context.Background())
				if got != tc.want {
					t.Errorf("send classified %s, want %s", got, tc.want)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				ops := decodeOps(t, buf.Bytes())
				if len(ops) != 2 || ops[0].Type != history.Invoke || ops[1].Type != tc.want {
					t.Fatalf("history = %s", buf.String())
				}
				if tc.want != history.Ok && ops[1].Error == "" {
					t.Errorf("%s completion carries no error: %s", tc.want, buf.String())
				}
				if ops[0].Producer != kind || ops[1].Producer != kind {
					t.Errorf("producer kind not recorded as %s: %s", kind, buf.String())
				}
				// Retries disabled means one request per record, whatever
				// the broker answered.
				if n := produces.Load(); kind == history.ProducerPlain && n > 1 {
					t.Errorf("plain-no-retry producer sent %d produce requests for one record", n)
				}
			})
		}
	}
}

func TestClassifyWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want history.Type
	}{
		{"nil", nil, history.Ok},
		{"not sent", errNotSent, history.Fail},
		{"wrapped definite rejection", errors.Join(errors.New("x"), kerr.InvalidRecord), history.Fail},
		{"retriable", kerr.NotLeaderForPartition, history.Info},
		{"deadline", context.DeadlineExceeded, history.Info},
		{"abandoned", errAbandoned, history.Info},
		{"unknown error", io.ErrUnexpectedEOF, history.Info},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassifyWrite(tc.err); got != tc.want {
				t.Errorf("ClassifyWrite(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

func decodeOps(t *testing.T, b []byte) []history.Op {
	t.Helper()
	var ops []history.Op
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var op history.Op
		if err := json.Unmarshal([]byte(line), &op); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		ops = append(ops, op)
	}
	return ops
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
