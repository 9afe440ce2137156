package broker

// LocalDeadlineMs is the Node's next deadline without its cluster work (heartbeats, requests to
// the controller), for tests of the timers of parked requests and housekeeping.
func (n *Node) LocalDeadlineMs() int64 { return n.localDeadlineMs() }
