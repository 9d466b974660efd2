package kafka

// ApiVersions: v0-4
//
// Behavior:
// * Answers every registered key with its version range (see regKey), so
//   what we advertise is exactly what has a handler.
// * A version above 4 is answered, without parsing the body, by a v0
//   response with UNSUPPORTED_VERSION and our key table (KIP-511: the
//   client then retries with the highest version we list); see
//   decodeRequest.
// * ClientSoftwareName/Version (v3+) are ignored, not validated.
// * No feature flags (KIP-584) are advertised.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: flexible versions, client software name/version (KIP-511)
// * v4: no change for us (KAFKA-17011: SupportedFeatures.MinVersion may be 0;
//   no features are advertised)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(18, 0, 4, typed(handleApiVersions)) }

func handleApiVersions(_ context.Context, _ *Server, _ *clientConn, req *kmsg.ApiVersionsRequest, resp *kmsg.ApiVersionsResponse) error {
	resp.ApiKeys = SupportedVersions()
	return nil
}
