/*
Package recordbatch is the one description of Kafka's RecordBatch v2 header
(magic 2, KIP-98; the Kafka protocol guide, "Record Batch") in this module:
the byte offset of every header field, the attribute bits, and the CRC-32C
the header carries.

broker/kafka parses produced batches with it and broker/cluster stores and
rewrites them with it; it imports nothing from the broker, so both can use it
without an import edge between them.

# Caller contract

The offsets index a batch starting at its baseOffset field. Callers check
len(raw) >= HeaderLen before reading a field. All integers are big endian.

# Invariants

  - The CRC covers Attributes to the end of the batch, so BaseOffset and
    LeaderEpoch (partitionLeaderEpoch) may be rewritten without
    recomputing it: the broker assigns both when it appends a batch.
  - Length counts the bytes after the Length field: a whole batch is
    LengthPrefix + Length bytes long.
*/
package recordbatch
