package provenance

import (
	"bytes"
	"regexp"
	"testing"
	"time"
)

// A step is announced once it outlasts the threshold, with its duration
// when done; a step that ends first prints nothing.
func TestSlowStep(t *testing.T) {
	var out bytes.Buffer
	done := slowStep(&out, "hashing 1 artifact (6.0 GiB)", 0)
	for out.Len() == 0 {
		time.Sleep(time.Millisecond)
	}
	done()
	if !regexp.MustCompile(`^attest-build: hashing 1 artifact \(6\.0 GiB\)\.\.\. done in \d+\.\ds\n$`).Match(out.Bytes()) {
		t.Errorf("announced %q", out.String())
	}
	out.Reset()
	slowStep(&out, "quoting", time.Hour)()
	if out.Len() != 0 {
		t.Errorf("a quick step printed %q", out.String())
	}
	slowStep(nil, "quoting", 0)() // no writer: nothing, no panic
}
