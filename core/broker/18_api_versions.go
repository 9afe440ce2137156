package broker

// ApiVersions, versions 0-4.
//
// Behaviour: lists cfg.Versions (what Kafka 4.x advertises to clients, never inter-broker or
// KRaft keys). A request too new to decode reaches the Node without a body and gets Kafka's
// KIP-511 answer: UNSUPPORTED_VERSION in a v0 body listing ApiVersions' own range. From v3 the
// client software name and version must match Kafka's pattern, else INVALID_REQUEST, as Kafka
// checks them. v3+ also lists the features a Weir broker supports (metadata.version,
// eligible.leader.replicas.version) and those the cluster finalized.
//
// Left out: throttling (ThrottleMillis is 0), the kraft.version/group.version features.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

func (n *Node) handleApiVersions(cs *conn, s *slot, req *kmsg.ApiVersionsRequest) {
	resp := kmsg.NewPtrApiVersionsResponse()
	if req.Version >= 3 && (!validSoftwareField(req.ClientSoftwareName) || !validSoftwareField(req.ClientSoftwareVersion)) {
		resp.ErrorCode = errInvalidRequest
		n.finish(cs, s, resp, nil)
		return
	}
	resp.ApiKeys = n.cfg.Versions.APIKeys()
	if req.Version >= 3 {
		for _, f := range metadata.SupportedFeatures() {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = f.Name, f.MinSupportedVersion, f.MaxSupportedVersion
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		}
		img := n.img
		for _, name := range img.FeatureNames() {
			level, _ := img.FeatureLevel(name)
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name = name
			ff.MinVersionLevel, ff.MaxVersionLevel = level, level
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
			resp.FinalizedFeaturesEpoch = int64(n.imgOffset) - 1
		}
	}
	n.finish(cs, s, resp, nil)
}

// validSoftwareField is Kafka's ApiVersionsRequest.isValid pattern for the client software
// name and version: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareField(v string) bool {
	if v == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(v[0]) || !alnum(v[len(v)-1]) {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		if c := v[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
