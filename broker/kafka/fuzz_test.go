package kafka

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest feeds arbitrary frame bodies to the request decoder and,
// when one decodes, to its handler against the fake backend. Neither may
// panic (handlers recover, but a panic here is still a bug: it would close
// a client's connection). The seed corpus in testdata/fuzz runs in every
// `go test`; `make fuzz` explores further.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range seedFrames() {
		f.Add(seed)
	}
	s, err := New(Config{Backend: newFakeBackend("127.0.0.1", 9092), AutoCreateTopics: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeRequest(body)
		if err != nil {
			return
		}
		if p.resp != nil {
			_ = appendResponse(nil, p.corr, p.resp)
			return
		}
		entry, _ := lookupKey(p.key)
		ctx, cancel := contextWithShortTimeout()
		defer cancel()
		resp, err := entry.handler(ctx, s, nil, p.req)
		if err == nil && resp != nil {
			_ = appendResponse(nil, p.corr, resp)
		}
	})
}

// seedFrames returns one valid frame body per served key and version
// (each version has its own layout: flexible encodings, fields added or
// removed), requests in the old record formats (message sets of magic 0
// and 1, plain and compressed, for Produce v0-2), and a few malformed
// frames.
func seedFrames() [][]byte {
	var out [][]byte
	for _, k := range SupportedVersions() {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			req.SetVersion(v)
			if k.ApiKey == 11 { // JoinGroup needs a valid body to get anywhere
				jr := req.(*kmsg.JoinGroupRequest)
				jr.Group, jr.ProtocolType, jr.SessionTimeoutMillis = "g", "consumer", 10000
				jr.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
				jr.MemberID = "m"
			}
			if k.ApiKey == 0 {
				pr := req.(*kmsg.ProduceRequest)
				pr.Acks = -1
				pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: makeBatch(2, -1, -1)}}}}
			}
			fr := frame(req, 1)
			out = append(out, fr[4:])
		}
	}
	v0, v1 := message(0, 0, 0, []byte("k"), []byte("v")), message(1, 0, 1234, nil, []byte("w"))
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(append(bytes.Clone(v1), v1...))
	w.Close()
	for v, set := range [][]byte{v0, v1, message(1, 1, 1234, nil, gz.Bytes())} {
		pr := kmsg.NewPtrProduceRequest()
		pr.Version, pr.Acks = int16(v), 1
		pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: set}}}}
		out = append(out, frame(pr, 2)[4:])
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 0
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Timestamp: -1, MaxNumOffsets: 3}}}}
	out = append(out, frame(lo, 3)[4:])
	md := kmsg.NewPtrMetadataRequest()
	md.Version, md.Topics = 0, []kmsg.MetadataRequestTopic{}
	out = append(out, frame(md, 4)[4:])
	out = append(out, []byte{}, []byte{0, 18}, binary.BigEndian.AppendUint32([]byte{0, 3, 0, 12}, 1))
	return out
}

// TestWriteFuzzSeeds regenerates the committed seed corpus when
// CHRONIK_WRITE_FUZZ_SEEDS=1; otherwise it checks the corpus exists, so a
// deleted corpus does not silently shrink what make test covers.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRequest")
	if os.Getenv("CHRONIK_WRITE_FUZZ_SEEDS") == "1" {
		for i, b := range seedFrames() {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < 20 {
		t.Fatalf("fuzz seed corpus has %d files (err %v); regenerate with CHRONIK_WRITE_FUZZ_SEEDS=1", len(entries), err)
	}
}
