package controller

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// producerIDBlockSize is Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE: the ids a broker gets
// per AllocateProducerIds.
const producerIDBlockSize = 1000

// AllocateProducerIds hands the broker the next block of producer ids, from the image's next
// producer id, with a ProducerIdsRecord (Kafka's ProducerIdControlManager). A broker that is not
// registered at the epoch it names gets STALE_BROKER_EPOCH, as in Kafka; a fenced broker may
// allocate. When the ids would pass the int64 range the answer is UNKNOWN_SERVER_ERROR, as Kafka's.
func (c *Controller) AllocateProducerIds(img *metadata.Image, nowMs int64, req *kmsg.AllocateProducerIDsRequest) Result {
	resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	fail := func(code int16) Result {
		resp.ErrorCode = code
		return Result{Response: resp}
	}
	if !c.brokers.active {
		return fail(errNotController)
	}
	b, ok := img.Broker(req.BrokerID)
	if !ok || b.Epoch != req.BrokerEpoch {
		return fail(errStaleBrokerEpoch)
	}
	first := img.NextProducerID()
	if first > math.MaxInt64-producerIDBlockSize {
		return fail(errUnknownServerError)
	}
	resp.ProducerIDStart = first
	resp.ProducerIDLen = producerIDBlockSize
	return Result{
		Records:  []metadata.Record{metadata.NewProducerIdsRecord(req.BrokerID, req.BrokerEpoch, first+producerIDBlockSize)},
		Response: resp,
	}
}
