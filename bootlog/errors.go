package bootlog

import (
	"errors"
	"fmt"

	"github.com/attest-build/attest-build/evidence"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrParse: the bytes are not a TCG event log.
	ErrParse = errors.New("not a TCG firmware event log")
	// ErrTooLarge: the log is larger than MaxLogSize.
	ErrTooLarge = errors.New("firmware event log too large")
	// ErrReplay: the log does not replay to a quoted PCR value. A
	// *ReplayError wraps it.
	ErrReplay = errors.New("firmware event log does not replay to the quoted PCR")
	// ErrNotQuoted: a boot PCR (0-9) is not among the quoted values, so the
	// log cannot be bound to the quote.
	ErrNotQuoted = errors.New("boot PCR not quoted")
	// ErrEventData: an event's data does not hash to its replayed digest,
	// or does not parse, where the boot state depends on it.
	ErrEventData = errors.New("firmware event data does not match its digest")
)

// ReplayError names the PCR (and bank) whose quoted value the log does not
// replay to.
type ReplayError struct {
	Bank     evidence.Bank
	PCR      int
	Quoted   []byte
	Replayed []byte // the value the log's events for this PCR and bank give
	Events   int    // events logged for this PCR
	Reason   string // why the replay failed, when not a plain mismatch
}

func (e *ReplayError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%v PCR %d: %s (quoted %x)", e.Bank, e.PCR, e.Reason, e.Quoted)
	}
	return fmt.Sprintf("%v PCR %d: quoted %x, the firmware event log's %d event(s) replay to %x", e.Bank, e.PCR, e.Quoted, e.Events, e.Replayed)
}

// Is makes errors.Is(err, ErrReplay) true.
func (e *ReplayError) Is(target error) bool { return target == ErrReplay }

// EventError names the event whose data the boot state could not use.
type EventError struct {
	Index int    // position of the event in the log (0 = first event after the Spec ID event)
	PCR   int    // the PCR it extends
	Type  string // its event type, e.g. EV_IPL
	Err   error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %d (PCR %d, %s): %v", e.Index, e.PCR, e.Type, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }
