package replicas

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// File is the name of the copies file in a run directory (store layout).
const File = "replicas.jsonl"

// Copy is one line of replicas.jsonl: what one node returned for one key,
// read from offset 0 up to its high watermark. Times are nanoseconds since
// the history's time base, so they line up with history operations.
type Copy struct {
	// Node is the node read ("n2"); Key the partition ("topic/partition"),
	// empty on a line that says the whole node could not be read.
	Node string `json:"node"`
	Key  string `json:"key,omitempty"`
	// Records are the (offset, value) pairs of the copy, in offset order.
	// Only records whose value is one of the harness's integers are kept;
	// Foreign counts the others.
	Records []history.Record `json:"records"`
	Foreign int              `json:"foreign,omitempty"`
	// HW is the high watermark the node answered on the last Fetch of
	// the read, at AnsweredAt; the copy is complete below it (below the
	// offset reached, when Truncated). FirstHW is the high watermark of
	// the first Fetch, invoked at InvokedAt.
	HW         int64 `json:"hw"`
	FirstHW    int64 `json:"first_hw"`
	LogStart   int64 `json:"log_start"`
	InvokedAt  int64 `json:"invoked_at"`
	AnsweredAt int64 `json:"answered_at"`
	// Fetches is the number of Fetch requests the read took.
	Fetches int `json:"fetches"`
	// Truncated: the read stopped at a size or time bound before HW; HW
	// is then the offset the read reached.
	Truncated bool `json:"truncated,omitempty"`
	// Absent: the node answered, for as long as the harness asked, that
	// it does not host the partition (UNKNOWN_TOPIC_OR_PARTITION); the
	// copy is then empty, with HW 0.
	Absent bool `json:"absent,omitempty"`
	// Error says why the copy could not be read; Records are then empty.
	Error string `json:"error,omitempty"`
}

// Write writes copies as replicas.jsonl into dir, atomically.
func Write(dir string, copies []Copy) error {
	tmp, err := os.CreateTemp(dir, ".replicas-*.jsonl")
	if err != nil {
		return fmt.Errorf("write replicas: %w", err)
	}
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for i := range copies {
		if err := enc.Encode(&copies[i]); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return fmt.Errorf("encode replica copy: %w", err)
		}
	}
	if err := errors.Join(w.Flush(), tmp.Chmod(0o644), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write replicas: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, File)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write replicas: %w", err)
	}
	return nil
}

// Read reads a replicas.jsonl.
func Read(path string) ([]Copy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read replicas: %w", err)
	}
	defer f.Close()
	return decode(f)
}

func decode(r io.Reader) ([]Copy, error) {
	var out []Copy
	dec := json.NewDecoder(bufio.NewReader(r))
	for line := 1; ; line++ {
		var c Copy
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("read replicas: copy %d: %w", line, err)
		}
		if c.Node == "" {
			return nil, fmt.Errorf("read replicas: copy %d names no node", line)
		}
		out = append(out, c)
	}
}

// Ack is a value the history acknowledged at an offset: an ok send (also
// inside an ok txn) whose completion carries the offset.
type Ack struct {
	Offset, Value int64
	// Op is the history index of the ok completion.
	Op int64
}

// Acked reads the acknowledged sends of the history at path, per key.
func Acked(ctx context.Context, path string) (map[string][]Ack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	out := map[string][]Ack{}
	_, err = history.Scan(ctx, f, history.ScanOptions{}, func(batch []history.Entry) error {
		for i := range batch {
			e := &batch[i]
			if !e.IsClient() || e.Type != history.Ok {
				continue
			}
			for _, m := range e.Mops {
				if m.F == history.FSend && m.Done && m.Offset != nil {
					out[m.Key] = append(out[m.Key], Ack{Offset: *m.Offset, Value: m.Value, Op: e.Index})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan history for acknowledged sends: %w", err)
	}
	return out, nil
}
