package provenance

import (
	"runtime/debug"
	"strings"
	"syscall"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// builderDependencies names what the build ran under: attest-build itself
// (its module version) and the running kernel (uname release and version).
func builderDependencies() []*intoto.ResourceDescriptor {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	deps := []*intoto.ResourceDescriptor{{
		Name: "attest-build",
		Uri:  "pkg:golang/github.com/attest-build/attest-build@" + version,
	}}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		ann, err := structpb.NewStruct(map[string]any{"release": utsString(u.Release[:]), "version": utsString(u.Version[:]), "machine": utsString(u.Machine[:])})
		if err == nil {
			deps = append(deps, &intoto.ResourceDescriptor{Name: "linux-kernel", Annotations: ann})
		}
	}
	return deps
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}
