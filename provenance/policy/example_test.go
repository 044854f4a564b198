package policy_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/attest-build/attest-build/provenance/policy"
)

// A policy is checked when it is parsed, and a bad one is refused with the
// line and field at fault. This policy trusts the AK of the real Debian 12
// swtpm VM in testdata/quotes (a relative publicKeyFile resolves against the
// working directory) and allows /bin/busybox with the digest that VM's IMA log
// records (testdata/ima/vm-debian12-swtpm.ascii). The broken copy puts the
// entry's 20-byte sha1 template hash where the 32-byte file digest belongs.
func ExampleParsePolicy() {
	const doc = `version: 1
builders:
  - name: vm-debian12-swtpm
    attestationKeys:
      - publicKeyFile: ../../testdata/quotes/vm-debian12-swtpm/ak.pem
builderIds: [https://github.com/attest-build/attest-build/builders/tpm-device/v0.1]
ima:
  allow:
    - path: /bin/busybox
      digests:
        - sha256:3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6
`
	p, err := policy.ParsePolicy([]byte(doc), "policy.yaml")
	fmt.Println("valid policy loaded:", p != nil, err)

	broken := strings.Replace(doc,
		"sha256:3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6",
		"sha256:eed20534b7dbbfea47e31bd8c4ac690cf3928fea", 1)
	p, err = policy.ParsePolicy([]byte(broken), "policy.yaml")
	fmt.Println("broken policy loaded:", p != nil)
	fmt.Println("errors.Is(err, policy.ErrPolicy):", errors.Is(err, policy.ErrPolicy))
	var pe *policy.PolicyError
	if errors.As(err, &pe) {
		fmt.Printf("file %s, line %d, field %s\n", pe.File, pe.Line, pe.Field)
	}
	fmt.Println(err)
	// Output:
	// valid policy loaded: true <nil>
	// broken policy loaded: false
	// errors.Is(err, policy.ErrPolicy): true
	// file policy.yaml, line 11, field ima.allow[0].digests[0]
	// policy.yaml:11: ima.allow[0].digests[0]: invalid policy: digest "sha256:eed20534b7dbbfea47e31bd8c4ac690cf3928fea": sha256 needs 32 bytes, found 20
}
