package provenance

import (
	"runtime/debug"
	"strings"
	"syscall"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/package-url/packageurl-go"
	"google.golang.org/protobuf/types/known/structpb"
)

// Version is attest-build's module version as the Go toolchain recorded it
// ("(devel)" for a build from a work tree): the SLSA builder.version and the
// version in its package URL.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// selfPURL is attest-build's canonical package URL at version.
func selfPURL(version string) string {
	return packageurl.NewPackageURL(packageurl.TypeGolang, "github.com/attest-build", "attest-build", version, nil, "").ToString()
}

// kernelPURL is the canonical package URL of a running Linux kernel: type
// generic (the distribution is not known), its uname release as the version
// and its machine as the arch qualifier.
func kernelPURL(release, machine string) string {
	var q packageurl.Qualifiers
	if machine != "" {
		q = packageurl.QualifiersFromMap(map[string]string{"arch": machine})
	}
	return packageurl.NewPackageURL(packageurl.TypeGeneric, "", "linux", release, q, "").ToString()
}

// builderDependencies names what the build ran under: attest-build itself
// (its module version) and the running kernel (uname release and version),
// each by a canonical package URL.
func builderDependencies() []*intoto.ResourceDescriptor {
	deps := []*intoto.ResourceDescriptor{{Name: "attest-build", Uri: selfPURL(Version())}}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		release, machine := utsString(u.Release[:]), utsString(u.Machine[:])
		ann, err := structpb.NewStruct(map[string]any{"release": release, "version": utsString(u.Version[:]), "machine": machine})
		if err == nil && release != "" {
			deps = append(deps, &intoto.ResourceDescriptor{Name: "linux-kernel", Uri: kernelPURL(release, machine), Annotations: ann})
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
