package provenance

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// ProgressAfter is how long a step of Attest runs before it is announced
// on Options.Progress.
const ProgressAfter = 2 * time.Second

// slowStep announces on w what is being done once it has taken longer than
// after, and how long it took when done is called; nothing when it ends
// sooner or w is nil.
func slowStep(w io.Writer, what string, after time.Duration) (done func()) {
	if w == nil || what == "" {
		return func() {}
	}
	start := time.Now()
	var mu sync.Mutex
	announced := false
	timer := time.AfterFunc(after, func() {
		mu.Lock()
		defer mu.Unlock()
		announced = true
		fmt.Fprintf(w, "attest-build: %s...", what)
	})
	return func() {
		timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		if announced {
			fmt.Fprintf(w, " done in %.1fs\n", time.Since(start).Seconds())
		}
	}
}
