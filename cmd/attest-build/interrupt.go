package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signalError is the cause of a context that interruptContext cancelled:
// the signal that arrived. run exits 128+N for it.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return fmt.Sprintf("interrupted by %v", e.sig) }

// interruptContext returns a child of parent that SIGINT or SIGTERM cancels
// with a *signalError cause, for waits that must end at once on Ctrl-C (a
// TPM that does not answer). It must not bound a build: the build gets the
// signal itself. stop releases the signals.
func interruptContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			cancel(&signalError{sig: s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}
