package provenance

import "testing"

// WithoutCgroup makes Run start builds without a cgroup of their own until
// the test ends, to test the process group and subreaper paths alone.
func WithoutCgroup(t testing.TB) {
	noCgroup = true
	t.Cleanup(func() { noCgroup = false })
}
