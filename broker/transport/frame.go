package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Frame format (all big endian):
//
//	u32 length of the rest | u64 from | u32 count | count x (u64 group | u32 len | raftpb.Message)
//
// The first frame on a connection is a handshake: magic "CHRK", u64 node id.

// MaxFrame bounds one frame; snapshots of big partitions travel in one
// message, so it is generous.
const MaxFrame = 256 << 20

var magic = [4]byte{'C', 'H', 'R', 'K'}

// AppendFrame encodes msgs from node from.
func AppendFrame(dst []byte, from uint64, msgs []GroupMessage) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, from)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(msgs)))
	for _, m := range msgs {
		dst = binary.BigEndian.AppendUint64(dst, m.Group)
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		var err error
		dst, err = proto.MarshalOptions{}.MarshalAppend(dst, m.Msg)
		if err != nil {
			return nil, fmt.Errorf("encode raft message: %w", err)
		}
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

// ReadFrame reads and decodes one frame.
func ReadFrame(r io.Reader, buf []byte) (uint64, []GroupMessage, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame || n < 12 {
		return 0, nil, buf, fmt.Errorf("frame of %d bytes out of bounds", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, buf, err
	}
	from := binary.BigEndian.Uint64(buf)
	count := binary.BigEndian.Uint32(buf[8:])
	p := buf[12:]
	msgs := make([]GroupMessage, 0, count)
	for range count {
		if len(p) < 12 {
			return 0, nil, buf, errors.New("truncated frame")
		}
		g := binary.BigEndian.Uint64(p)
		l := binary.BigEndian.Uint32(p[8:])
		p = p[12:]
		if uint32(len(p)) < l {
			return 0, nil, buf, errors.New("truncated message")
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(p[:l], m); err != nil {
			return 0, nil, buf, fmt.Errorf("decode raft message: %w", err)
		}
		p = p[l:]
		msgs = append(msgs, GroupMessage{Group: g, Msg: m})
	}
	return from, msgs, buf, nil
}
