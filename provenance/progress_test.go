package provenance

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
	"time"
)

// notedWriter collects what is written and signals the first write.
type notedWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func (w *notedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() == 0 {
		close(w.written)
	}
	return w.buf.Write(p)
}

func (w *notedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A step is announced once it outlasts the threshold, with its duration
// when done; a step that ends first prints nothing.
func TestSlowStep(t *testing.T) {
	out := &notedWriter{written: make(chan struct{})}
	done := slowStep(out, "hashing 1 artifact (6.0 GiB)", 0)
	<-out.written
	done()
	if !regexp.MustCompile(`^attest-build: hashing 1 artifact \(6\.0 GiB\)\.\.\. done in \d+\.\ds\n$`).MatchString(out.String()) {
		t.Errorf("announced %q", out.String())
	}
	quiet := &notedWriter{written: make(chan struct{})}
	slowStep(quiet, "quoting", time.Hour)()
	if s := quiet.String(); s != "" {
		t.Errorf("a quick step printed %q", s)
	}
	slowStep(nil, "quoting", 0)() // no writer: nothing, no panic
}
