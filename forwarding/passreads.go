package forwarding

import (
	"context"
	"errors"
	"sync"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// passFresh bounds how old an instance read shared within one outbox pass may be when an
// attempt starts: a pass whose deliveries wait for slots reads its instances again.
const passFresh = time.Second

// passReads shares the instance reads of one outbox pass: the deliveries claimed from one due
// query (or handed over by the intake together) read each instance once, instead of once each.
// Every read starts after the pass's due query (or the hand-over), so a delivery polled after
// an instance was disabled (or its settings changed) never acts on what was read before;
// within the pass a read serves for at most passFresh.
type passReads struct {
	instances Instances
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*instanceRead
}

// instanceRead is one read of an instance; done is closed once inst and err are set.
type instanceRead struct {
	done chan struct{}
	inst zen7.Instance
	err  error
	at   time.Time
}

func newPassReads(instances Instances, now func() time.Time) *passReads {
	return &passReads{instances: instances, now: now, m: map[string]*instanceRead{}}
}

// instance returns the instance with id, read once for the pass (and again once the read is
// older than passFresh). A failed read is not shared beyond the attempts that waited for it.
func (p *passReads) instance(ctx context.Context, id string) (zen7.Instance, error) {
	p.mu.Lock()
	r := p.m[id]
	if r != nil {
		select {
		case <-r.done:
			if p.now().Sub(r.at) > passFresh {
				r = nil
			}
		default: // being read: wait for it
		}
	}
	if r != nil {
		p.mu.Unlock()
		select {
		case <-r.done:
			return r.inst, r.err
		case <-ctx.Done():
			return zen7.Instance{}, ctx.Err()
		}
	}
	r = &instanceRead{done: make(chan struct{}), at: p.now()}
	p.m[id] = r
	p.mu.Unlock()
	r.inst, r.err = p.instances.Instance(ctx, id)
	if r.err != nil && !errors.Is(r.err, zen7.ErrNotFound) {
		p.mu.Lock()
		if p.m[id] == r {
			delete(p.m, id) // the next attempt reads again
		}
		p.mu.Unlock()
	}
	close(r.done)
	return r.inst, r.err
}

// seed gives the pass r, a read of instance id made after the pass began (readAhead), unless
// it has one.
func (p *passReads) seed(id string, r *instanceRead) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[id]; !ok {
		p.m[id] = r
	}
}

// sharedInstances reads instances for every pass and hand-over of a worker: the reads of one
// instance asked for at once are made as one (a group per instance), which starts after every
// request it answers, so that sharing it keeps passReads' rule. Under load the intake hands
// deliveries over a few at a time, each hand-over a pass of its own.
type sharedInstances struct {
	instances Instances

	mu    sync.Mutex
	reads map[string]*group[struct{}, instanceResult] // while one is asked for
}

type instanceResult struct {
	inst zen7.Instance
	err  error
}

func newSharedInstances(instances Instances) *sharedInstances {
	return &sharedInstances{instances: instances, reads: map[string]*group[struct{}, instanceResult]{}}
}

// instancesByID is what an Instances may do besides: read several instances with one read,
// returning those there (store.Instances).
type instancesByID interface {
	InstancesByID(ctx context.Context, ids []string) (map[string]zen7.Instance, error)
}

// readAll reads the instances with ids, each read starting now or later, and returns one
// read for each it could read (ErrNotFound included), each made at at: with one read if the
// store can (instancesByID), else each as Instance does.
func (s *sharedInstances) readAll(ctx context.Context, ids []string, at time.Time) map[string]*instanceRead {
	out := make(map[string]*instanceRead, len(ids))
	if len(ids) == 0 {
		return out
	}
	read := func(id string, inst zen7.Instance, err error) {
		r := &instanceRead{done: make(chan struct{}), inst: inst, err: err, at: at}
		close(r.done)
		out[id] = r
	}
	if many, ok := s.instances.(instancesByID); ok {
		found, err := many.InstancesByID(ctx, ids)
		if err != nil {
			return out // each attempt reads its own
		}
		for _, id := range ids {
			if in, ok := found[id]; ok {
				read(id, in, nil)
			} else {
				read(id, zen7.Instance{}, zen7.ErrNotFound)
			}
		}
		return out
	}
	for _, id := range ids {
		in, err := s.Instance(ctx, id)
		if err == nil || errors.Is(err, zen7.ErrNotFound) {
			read(id, in, err)
		}
	}
	return out
}

// Instance is Instances.Instance, read together with the requests for id made meanwhile.
func (s *sharedInstances) Instance(ctx context.Context, id string) (zen7.Instance, error) {
	s.mu.Lock()
	g := s.reads[id]
	if g == nil {
		g = newGroup(func(ctx context.Context, reqs []struct{}) []instanceResult {
			inst, err := s.instances.Instance(ctx, id)
			out := make([]instanceResult, len(reqs))
			for i := range out {
				out[i] = instanceResult{inst, err}
			}
			return out
		})
		s.reads[id] = g
	}
	s.mu.Unlock()
	r := g.do(ctx, struct{}{})
	s.mu.Lock()
	defer s.mu.Unlock()
	g.mu.Lock()
	if !g.writing && s.reads[id] == g {
		delete(s.reads, id) // nobody waits: the map holds only the instances being read
	}
	g.mu.Unlock()
	return r.inst, r.err
}
