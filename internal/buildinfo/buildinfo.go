// Package buildinfo says which attest-build is running: its module version,
// the VCS revision it was built from and the Go toolchain that built it, as
// the Go linker recorded them (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info identifies a build of attest-build. Fields the binary does not
// record are empty (a test binary has no VCS stamp; `go run` none either).
type Info struct {
	Module    string `json:"module"`             // the main module's path
	Version   string `json:"version"`            // its version: a tag, a pseudo-version or "(devel)"
	Revision  string `json:"revision,omitempty"` // the VCS commit (vcs.revision)
	Time      string `json:"time,omitempty"`     // the commit's time, RFC 3339 (vcs.time)
	Modified  bool   `json:"modified,omitempty"` // the work tree had uncommitted changes (vcs.modified)
	GoVersion string `json:"goVersion"`          // the Go toolchain, e.g. go1.26.0
}

// Read returns the running binary's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from the linker's record.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form `attest-build --version` prints:
// "VERSION (revision REV[, modified], TIME) GOVERSION".
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	rev := i.Revision
	if rev == "" {
		rev = "unknown"
	}
	fmt.Fprintf(&b, " (revision %s", rev)
	if i.Modified {
		b.WriteString(", modified")
	}
	if i.Time != "" {
		fmt.Fprintf(&b, ", %s", i.Time)
	}
	fmt.Fprintf(&b, ") %s", i.GoVersion)
	return b.String()
}
