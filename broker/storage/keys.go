package storage

import "encoding/binary"

// Key layout. Every key of a Raft group starts with the group id (8 bytes,
// big endian) so that one DeleteRange removes a group and its state machine,
// and so that iterating one group's entries is one contiguous range.
//
//	group | 'e' | index   -> raftpb.Entry (protobuf)
//	group | 'h'           -> raftpb.HardState
//	group | 's'           -> raftpb.SnapshotMetadata of the last compaction
//	group | 'x' | suffix  -> state machine data (owned by broker/cluster)
const (
	kindEntry     = 'e'
	kindHardState = 'h'
	kindSnapMeta  = 's'
	kindState     = 'x'
)

func groupPrefix(group uint64) []byte {
	k := make([]byte, 8, 32)
	binary.BigEndian.PutUint64(k, group)
	return k
}

func entryKey(group, index uint64) []byte {
	k := append(groupPrefix(group), kindEntry)
	return binary.BigEndian.AppendUint64(k, index)
}

func hardStateKey(group uint64) []byte { return append(groupPrefix(group), kindHardState) }

func snapMetaKey(group uint64) []byte { return append(groupPrefix(group), kindSnapMeta) }

// StateKey returns the key of a state machine record of group. The suffix is
// opaque to this package; keys of one group sort by suffix bytes.
func StateKey(group uint64, suffix ...byte) []byte {
	k := append(groupPrefix(group), kindState)
	return append(k, suffix...)
}

// StateKeyUpperBound is the first key after every StateKey of group with the
// given prefix suffix, for iterator bounds and range deletions.
func StateKeyUpperBound(group uint64, suffix ...byte) []byte {
	k := StateKey(group, suffix...)
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] != 0xff {
			k[i]++
			return k[:i+1]
		}
	}
	return nil
}

// GroupBounds returns the key range [lo, hi) holding everything of group.
func GroupBounds(group uint64) (lo, hi []byte) {
	return groupPrefix(group), groupPrefix(group + 1)
}

// parseEntryIndex returns the index of an entry key.
func parseEntryIndex(k []byte) uint64 { return binary.BigEndian.Uint64(k[9:17]) }
