package main

import (
	"sync"

	"github.com/weirdata/weir/core/broker"
)

// workerPool runs jobs off the loop on a fixed set of goroutines, in submission order per
// goroutine. Submitting never blocks the loop: the queue holds at most what the Node has
// outstanding, which the Node bounds (one sync in flight per log plus the metadata log's, one
// snapshot, file ops of its retention passes and deletions).
type workerPool struct {
	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []func()
	closed bool
	wg     sync.WaitGroup
}

func newWorkerPool(workers int) *workerPool {
	p := &workerPool{}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *workerPool) submit(job func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		panic("driver: invariant: job submitted to a closed worker pool")
	}
	p.jobs = append(p.jobs, job)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *workerPool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.jobs) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.jobs) == 0 {
			p.mu.Unlock()
			return
		}
		job := p.jobs[0]
		p.jobs[0] = nil
		p.jobs = p.jobs[1:]
		p.mu.Unlock()
		job()
	}
}

// close lets the queued jobs finish, then stops the goroutines and waits for them.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// completionKind says which Node event a completion becomes.
type completionKind uint8

const (
	completedSync        completionKind = iota + 1 // broker Node.Synced
	completedFileOp                                // broker Node.Done
	completedCtlSync                               // controller.Node.Synced
	completedCtlFileOp                             // controller.Node.Done
	completedCtlSnapshot                           // controller.Node.SnapshotWritten
)

// completion is the outcome of one job the Node asked for.
type completion struct {
	kind completionKind
	sync broker.SyncID
	op   broker.OpID
	err  error
}

// inbox carries completions from the workers to the loop without ever blocking a worker: a
// worker appends and pokes notify (capacity 1); the loop takes everything at once. It holds at
// most one completion per outstanding job.
type inbox struct {
	mu     sync.Mutex
	items  []completion
	notify chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

func (b *inbox) put(c completion) {
	b.mu.Lock()
	b.items = append(b.items, c)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take returns the completions so far, swapping in spare (emptied) as the new buffer so the
// two slices alternate without allocating.
func (b *inbox) take(spare []completion) []completion {
	b.mu.Lock()
	items := b.items
	b.items = spare[:0]
	b.mu.Unlock()
	return items
}
