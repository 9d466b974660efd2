package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKcatLibrdkafka drives the broker with kcat (librdkafka), which
// negotiates versions through ApiVersions and is stricter than franz-go
// about some encodings (a null fetch record set once broke it). It runs
// where kcat is installed (Debian: apt-get install kcat) and is skipped
// elsewhere, since tests may only rely on Go and Docker.
func TestKcatLibrdkafka(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	b := startBroker(t, testOptions(t.TempDir()))
	defer b.stop(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", b.kafka}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, out)
		}
		if strings.Contains(string(out), "PROTOERR") || strings.Contains(string(out), "parse failure") {
			t.Fatalf("kcat %v reported a protocol error:\n%s", args, out)
		}
		return string(out)
	}
	if out := run("", "-L"); !strings.Contains(out, `topic "chronik-default"`) {
		t.Fatalf("metadata listing lacks chronik-default:\n%s", out)
	}
	run("a\nb\nc\n", "-P", "-t", "kc", "-X", "enable.idempotence=true", "-X", "acks=all")
	if out := run("", "-C", "-t", "kc", "-e", "-q", "-f", "%o=%s\n"); out != "0=a\n1=b\n2=c\n" {
		t.Fatalf("consumed %q", out)
	}
	// Batches are stored as the producer compressed them; librdkafka must
	// read every codec back.
	for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
		topic := "kc-" + codec
		run("x1\nx2\n", "-P", "-t", topic, "-z", codec, "-X", "enable.idempotence=true", "-X", "acks=all")
		if out := run("", "-C", "-t", topic, "-e", "-q", "-f", "%o=%s\n"); out != "0=x1\n1=x2\n" {
			t.Fatalf("%s: consumed %q", codec, out)
		}
	}
	if out := run("", "-Q", "-t", "kc:0:0"); !strings.Contains(out, "offset 0") {
		t.Fatalf("offset by timestamp: %q", out)
	}
	out := run("", "-G", "kcg", "kc", "-e", "-q", "-X", "auto.offset.reset=earliest", "-f", "%s\n")
	if strings.Count(out, "\n") < 3 || !strings.Contains(out, "a\nb\nc\n") {
		t.Fatalf("group consume: %q", out)
	}
	kcatTransactions(t, b, run)
}

// kcatTransactions: librdkafka's transactional producer (kcat -P with a
// transactional.id runs the whole input in one transaction and commits
// it), then its read_committed consumer against transactions franz-go
// aborted and left open: it must skip the aborted records (the fetch's
// AbortedTransactions) and stop at the open one (the last stable offset),
// while read_uncommitted reads everything.
func kcatTransactions(t *testing.T, b *broker, run func(stdin string, args ...string) string) {
	t.Helper()
	run("t1\nt2\nt3\n", "-P", "-t", "ktx", "-X", "transactional.id=kcat-tx", "-X", "acks=all")
	committed := "0=t1\n1=t2\n2=t3\n" // the commit marker is offset 3
	if out := run("", "-C", "-t", "ktx", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%o=%s\n"); out != committed {
		t.Fatalf("read_committed after kcat's transaction: %q, want %q", out, committed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod := client(t, b.kafka, kgo.TransactionalID("kcat-franz"), kgo.DefaultProduceTopic("ktx"))
	txn := func(v string, commit bool) {
		t.Helper()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn("aborted", false) // offsets 4 and the abort marker 5
	txn("c1", true)       // 6, marker 7
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, kgo.StringRecord("open")).FirstErr(); err != nil { // 8
		t.Fatal(err)
	}
	committed += "6=c1\n"
	if out := run("", "-C", "-t", "ktx", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%o=%s\n"); out != committed {
		t.Fatalf("read_committed: %q, want %q", out, committed)
	}
	all := "0=t1\n1=t2\n2=t3\n4=aborted\n6=c1\n8=open\n"
	if out := run("", "-C", "-t", "ktx", "-e", "-q", "-X", "isolation.level=read_uncommitted", "-f", "%o=%s\n"); out != all {
		t.Fatalf("read_uncommitted: %q, want %q", out, all)
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}
