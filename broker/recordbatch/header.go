package recordbatch

import "hash/crc32"

// Byte offsets of the RecordBatch v2 header fields, from the start of the
// batch (its baseOffset field).
const (
	BaseOffset      = 0  // int64, assigned by the broker, not under the CRC
	Length          = 8  // int32, bytes after this field
	LeaderEpoch     = 12 // int32 partitionLeaderEpoch, assigned by the broker, not under the CRC
	Magic           = 16 // int8, 2 for this format
	CRC             = 17 // uint32, CRC-32C (Castagnoli) of Attributes..end
	Attributes      = 21 // int16, see the Attr bits
	LastOffsetDelta = 23 // int32, record count - 1
	FirstTimestamp  = 27 // int64, milliseconds
	MaxTimestamp    = 35 // int64, milliseconds
	ProducerID      = 43 // int64, -1 when not idempotent
	ProducerEpoch   = 51 // int16
	BaseSequence    = 53 // int32
	RecordCount     = 57 // int32
	HeaderLen       = 61 // the records follow

	// LengthPrefix is how many bytes precede what Length counts.
	LengthPrefix = Length + 4
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrLogAppendTime   = 0x08
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum computes the CRC-32C that the CRC field of raw must hold. raw
// must be at least HeaderLen bytes long.
func Checksum(raw []byte) uint32 {
	return crc32.Checksum(raw[Attributes:], castagnoli)
}
