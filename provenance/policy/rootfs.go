package policy

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/attest-build/attest-build/rootfs"
)

// RuntimePolicyPath names the Keylime runtime policy that policy init
// writes beside a policy file: policy.yaml -> policy.runtime-policy.json.
func RuntimePolicyPath(policyPath string) string {
	ext := filepath.Ext(policyPath)
	if ext == ".yaml" || ext == ".yml" {
		policyPath = strings.TrimSuffix(policyPath, ext)
	}
	return policyPath + ".runtime-policy.json"
}

// ImagePolicy returns a starting policy whose IMA allowlist is the Keylime
// runtime policy file runtimePolicy (a name relative to the policy's
// folder) made from an image. Without an attestation it names no signer and
// no builder, so it verifies nothing until they are added; its header says
// so.
func ImagePolicy(image, runtimePolicy string, st rootfs.Stats, now time.Time) ([]byte, error) {
	doc := fmt.Sprintf(`# attest-build trust policy (docs/policy.md), made by 'attest-build policy init --from-rootfs'
# from %q on %s: %d files (%d bytes) hashed into the Keylime runtime policy
# %s; left out: %d subtrees skipped, %d mount points of other file systems,
# %d files excluded by pattern, %d not owned by root, %d symbolic links, %d special files.
# It names no signer and no builder: add them (or make the policy with --from an
# attestation of this runner) before use. Review every section.
version: 1
signers: []
builders: []
# Accepted TPM modes: device (a hardware or firmware TPM).
tpmModes: [device]
ima:
  required: true
  # boot: every entry since boot is checked against the image's allowlist.
  scope: boot
  banks: [sha256, sha384, sha512]
  allowViolations: false
  templates: []
  # The image's files, with their digests, in Keylime's format (usable by Keylime as it is).
  keylimeRuntimePolicy: [%q]
  exclude: []
  deny: []
# Refuse attestations of builds that finished longer ago than this.
maxAge: 30d
`, image, now.UTC().Format(time.RFC3339), st.Files, st.Bytes, runtimePolicy,
		st.SkipDirs, st.OtherFS, st.Excluded, st.NotRoot, st.Symlinks, st.Special, runtimePolicy)
	return []byte(doc), nil
}
