package forwarding

import "time"

// Action is what decide says a delivery should do, exported for the external tests.
type Action = action

// The actions decide returns.
const (
	ActNone   = actNone
	ActSkip   = actSkip
	ActCreate = actCreate
	ActUpdate = actUpdate
	ActStop   = actStop
)

// The reasons decide gives.
const (
	ReasonSuperseded     = reasonSuperseded
	ReasonClaimedFirst   = reasonClaimedFirst
	ReasonAutoForwardOff = reasonAutoForwardOff
	ReasonNoEmail        = reasonNoEmail
	ReasonNoChange       = reasonNoChange
	ReasonNotForwarded   = reasonNotForwarded
	ReasonAlreadyStopped = reasonAlreadyStopped
	ReasonStopOff        = reasonStopOff
)

// Decide is decide.
var Decide = decide

// Backoff returns the delay w waits after n failed attempts.
func (w *Worker) Backoff(n int) time.Duration { return w.backoff(n) }

// SetClock makes w read the time from now. Call it before Run.
func (w *Worker) SetClock(now func() time.Time) { w.now = now }

// Running reports whether w's Run has started and not yet stopped.
func (w *Worker) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running
}

// IdleSlots is how many deliveries w could start now.
func (w *Worker) IdleSlots() int { return cap(w.slots) - len(w.slots) }
