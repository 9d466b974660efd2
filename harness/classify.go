package harness

import (
	"errors"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errNotSent marks an operation the harness gave up on before handing it to
// the client library (no request can have reached a broker).
var errNotSent = errors.New("operation not sent")

// definiteRejections are the broker error codes that mean "this produce was
// refused as a whole and nothing of it was appended": the request is
// malformed, unauthorized, addressed to a partition the broker does not
// have, or too big. franz-go fails a record with one of these only after a
// broker answered with it (or, for an unknown topic, after metadata said
// the topic does not exist, before any produce was sent).
//
// Deliberately absent: every retriable code (NOT_LEADER, REQUEST_TIMED_OUT,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, ...) because franz-go surfaces them only
// after retries, and an earlier attempt may have been applied; the producer
// state codes (OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
// UNKNOWN_PRODUCER_ID, ...) because they say something about earlier
// batches, not that this one was dropped; and UNKNOWN_SERVER_ERROR, which
// is the broker admitting it does not know what happened.
var definiteRejections = map[int16]bool{
	kerr.UnknownTopicOrPartition.Code:     true,
	kerr.UnknownTopicID.Code:              true,
	kerr.InvalidTopicException.Code:       true,
	kerr.MessageTooLarge.Code:             true,
	kerr.RecordListTooLarge.Code:          true,
	kerr.InvalidRequiredAcks.Code:         true,
	kerr.TopicAuthorizationFailed.Code:    true,
	kerr.ClusterAuthorizationFailed.Code:  true,
	kerr.InvalidTimestamp.Code:            true,
	kerr.UnsupportedVersion.Code:          true,
	kerr.InvalidRequest.Code:              true,
	kerr.UnsupportedForMessageFormat.Code: true,
	kerr.PolicyViolation.Code:             true,
	kerr.UnsupportedCompressionType.Code:  true,
	kerr.InvalidRecord.Code:               true,
}

// ClassifyWrite maps the outcome of a write (send) to the history's
// completion type. Fail only when the broker definitely did not apply the
// write; Info for everything that may have happened: timeouts, retries
// exhausted, connection loss, a closed client, a cancelled context, any
// error this function does not know. Getting this wrong either makes the
// checkers cry wolf (a write recorded as failed that was applied shows up
// as an impossible read) or hides lost writes.
func ClassifyWrite(err error) history.Type {
	if err == nil {
		return history.Ok
	}
	if errors.Is(err, errNotSent) || errors.Is(err, kgo.ErrMaxBuffered) {
		return history.Fail
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && definiteRejections[ke.Code] {
		return history.Fail
	}
	return history.Info
}

// ClassifyRead maps the outcome of a read (poll, fetch, list offsets). A
// read changes nothing on the broker, so a read that returned nothing
// usable definitely did not happen as far as the history is concerned:
// Fail, whatever the error.
func ClassifyRead(err error) history.Type {
	if err == nil {
		return history.Ok
	}
	return history.Fail
}
