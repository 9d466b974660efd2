package recordbatch_test

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
)

// The offsets agree with franz-go's encoding of a RecordBatch, field by
// field. (Checksum is checked against real clients' CRCs by broker/kafka's
// franz-go produce tests, which splitBatches refuses on a mismatch.)
func TestHeaderMatchesKmsg(t *testing.T) {
	rb := kmsg.RecordBatch{
		FirstOffset: 0x0102030405060708, PartitionLeaderEpoch: 0x11121314, Magic: 2,
		Attributes: 0x2122, LastOffsetDelta: 0x31323334, FirstTimestamp: 0x4142434445464748,
		MaxTimestamp: 0x5152535455565758, ProducerID: 0x6162636465666768, ProducerEpoch: 0x7172,
		FirstSequence: 0x7a7b7c7d, NumRecords: 3, Records: []byte("records"),
	}
	raw := rb.AppendTo(nil)
	rb.Length = int32(len(raw) - recordbatch.LengthPrefix)
	raw = rb.AppendTo(nil)
	u64 := func(off int) int64 { return int64(binary.BigEndian.Uint64(raw[off:])) }
	u32 := func(off int) int32 { return int32(binary.BigEndian.Uint32(raw[off:])) }
	u16 := func(off int) int16 { return int16(binary.BigEndian.Uint16(raw[off:])) }
	tests := []struct {
		name      string
		got, want int64
	}{
		{"base offset", u64(recordbatch.BaseOffset), rb.FirstOffset},
		{"length", int64(u32(recordbatch.Length)), int64(len(raw) - recordbatch.LengthPrefix)},
		{"leader epoch", int64(u32(recordbatch.LeaderEpoch)), int64(rb.PartitionLeaderEpoch)},
		{"magic", int64(raw[recordbatch.Magic]), 2},
		{"attributes", int64(u16(recordbatch.Attributes)), int64(rb.Attributes)},
		{"last offset delta", int64(u32(recordbatch.LastOffsetDelta)), int64(rb.LastOffsetDelta)},
		{"first timestamp", u64(recordbatch.FirstTimestamp), rb.FirstTimestamp},
		{"max timestamp", u64(recordbatch.MaxTimestamp), rb.MaxTimestamp},
		{"producer id", u64(recordbatch.ProducerID), rb.ProducerID},
		{"producer epoch", int64(u16(recordbatch.ProducerEpoch)), int64(rb.ProducerEpoch)},
		{"base sequence", int64(u32(recordbatch.BaseSequence)), int64(rb.FirstSequence)},
		{"record count", int64(u32(recordbatch.RecordCount)), int64(rb.NumRecords)},
		{"records follow the header", int64(len(raw) - recordbatch.HeaderLen), int64(len(rb.Records))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %#x, want %#x", tt.got, tt.want)
			}
		})
	}
}
