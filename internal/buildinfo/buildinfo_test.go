package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/attest-build/attest-build", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-12-02T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := FromBuildInfo(bi)
	want := Info{Module: "github.com/attest-build/attest-build", Version: "v0.3.0", Revision: "0123456789abcdef",
		Time: "2026-12-02T10:00:00Z", Modified: true, GoVersion: "go1.26.0"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if s, w := got.String(), "v0.3.0 (revision 0123456789abcdef, modified, 2026-12-02T10:00:00Z) go1.26.0"; s != w {
		t.Errorf("String() = %q, want %q", s, w)
	}
	if s, w := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0"}).String(), "(devel) (revision unknown) go1.26.0"; s != w {
		t.Errorf("without VCS: %q, want %q", s, w)
	}
}

// The running binary's record names the toolchain that built it.
func TestRead(t *testing.T) {
	if got := Read().GoVersion; got != runtime.Version() {
		t.Errorf("GoVersion %q, want %q", got, runtime.Version())
	}
}
