package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service is the one lifecycle contract of a node's long-running parts
// (River's startstop): Start runs the part until Stop, and Stop is safe to
// call more than once, and before or without Start.
type Service interface {
	Start(ctx context.Context) error
	Stop()
}

// namedService is one entry of a node's ordered list of parts.
type namedService struct {
	name string
	svc  Service
}

// startAll starts parts in order. When one fails, the ones already
// started are stopped in reverse and its error is returned.
func startAll(ctx context.Context, log *slog.Logger, parts []namedService) error {
	for i, p := range parts {
		if err := p.svc.Start(ctx); err != nil {
			stopAll(log, parts[:i])
			return fmt.Errorf("%s: %w", p.name, err)
		}
		log.Debug("started", "part", p.name)
	}
	return nil
}

// stopAll stops parts in reverse order: what started last depends on what
// started before it.
func stopAll(log *slog.Logger, parts []namedService) {
	for i := len(parts) - 1; i >= 0; i-- {
		parts[i].svc.Stop()
		log.Debug("stopped", "part", parts[i].name)
	}
}

// funcService adapts a start and a stop function to Service.
type funcService struct {
	start func(ctx context.Context) error
	stop  func()
	once  sync.Once
}

func (f *funcService) Start(ctx context.Context) error {
	if f.start == nil {
		return nil
	}
	return f.start(ctx)
}

func (f *funcService) Stop() { f.once.Do(f.stop) }

// loopService runs fn in a goroutine until Stop, which waits for it. The
// loop outlives the ctx given to Start (a request-scoped ctx ending must
// not stop a node), so only Stop ends it.
type loopService struct {
	run func(ctx context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loopService) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return nil
	}
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
	return nil
}

func (l *loopService) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		return
	}
	l.cancel()
	<-l.done
}

// every runs fn every d, the first time after d, until Stop.
func every(d time.Duration, fn func(ctx context.Context)) *loopService {
	return &loopService{run: func(ctx context.Context) {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}}
}
