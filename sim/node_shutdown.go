package sim

import (
	"time"

	"github.com/weirdata/weir/core/controller"
	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/diskio/memfs"
)

// controlledShutdownTimeoutNs bounds how long a SIGTERM waits for the controller to let the
// broker go, as cmd/weir's controlledShutdownTimeout does.
const controlledShutdownTimeoutNs = 10 * int64(time.Second)

// nodeShutdown is an incarnation's SIGTERM state.
type nodeShutdown struct {
	requested  bool  // SIGTERM received: the broker asked for a controlled shutdown
	exiting    bool  // the broker stopped serving; the process exits shortly
	checkQueue bool  // a shutdown check event is scheduled
	deadlineNs int64 // stop anyway at this time
}

// Shutdown is a SIGTERM, as cmd/weir handles it: the broker drains its long polls and asks
// the controller for a controlled shutdown (the controller moves its leaderships away); once
// the controller lets it go, or it holds no broker epoch, or controlledShutdownTimeoutNs
// passed, it stops serving, a quorum leader resigns, and the process exits a moment later
// with the machine keeping its page cache. A paused process handles it when it resumes.
func (n *Node) Shutdown() {
	inc := n.inc
	if inc == nil || inc.shutdown.requested {
		return
	}
	if inc.held(n.Shutdown) {
		return
	}
	n.stats.Shutdowns++
	inc.shutdown.requested = true
	inc.shutdown.deadlineNs = n.w.NowNs() + controlledShutdownTimeoutNs
	inc.tracef("SIGTERM: asking the controller for a controlled shutdown")
	inc.schedule(inc.shutdown.deadlineNs, "shutdown deadline", inc.maybeExit)
	inc.execute("drain", inc.node.Drain(inc.clocks()))
}

// shutdownCheck queues a check whether a shutting-down broker may stop (after a Ready).
func (inc *incarnation) shutdownCheck() {
	if !inc.shutdown.requested || inc.shutdown.exiting || inc.shutdown.checkQueue {
		return
	}
	inc.shutdown.checkQueue = true
	inc.schedule(inc.n.w.NowNs(), "shutdown check", func() {
		inc.shutdown.checkQueue = false
		inc.maybeExit()
	})
}

// maybeExit stops the shutting-down process once cmd/weir's driver would.
func (inc *incarnation) maybeExit() {
	n := inc.n
	s := &inc.shutdown
	if inc.dead || s.exiting {
		return
	}
	completed := inc.node.ShouldShutDown()
	if !completed && inc.node.BrokerEpoch() >= 0 && n.w.NowNs() < s.deadlineNs {
		return
	}
	s.exiting = true
	if completed {
		n.stats.ControlledShutdowns++
		inc.tracef("controlled shutdown completed")
	} else {
		inc.tracef("shutting down without a completed controlled shutdown (broker epoch %d, %s)", inc.node.BrokerEpoch(), inc.node.LifecycleState())
	}
	n.net.Unlisten(n.addr)
	inc.listening = false
	if inc.ctl.Role() == quorum.RoleLeader {
		inc.executeController("resign", inc.ctl.Resign(controller.Clocks(inc.clocks())))
	}
	if inc.dead {
		return
	}
	inc.schedule(n.w.NowNs()+n.draw(20e6, 200e6), "exit", func() { n.CrashWith(memfs.CrashKeepUnsynced) })
}
