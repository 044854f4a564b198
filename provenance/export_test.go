package provenance

import "testing"

// WithoutCgroup makes Run start builds without a cgroup of their own until
// the test ends, to test the process group and subreaper paths alone.
func WithoutCgroup(t testing.TB) {
	noCgroup = true
	t.Cleanup(func() { noCgroup = false })
}

// OpenOutput exposes openOutput: the directory of path is opened now; write
// creates the file in it later.
func OpenOutput(path, workDir string) (write func([]byte) error, close func(), err error) {
	o, err := openOutput(path, workDir)
	if err != nil {
		return nil, nil, err
	}
	return func(b []byte) error { return o.write(b, 0o644) }, o.close, nil
}
