package policy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/internal/pathglob"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/runtimepolicy"
	"github.com/attest-build/attest-build/tpm"
)

// imaPCR is the PCR the kernel extends IMA measurements into; the policy
// written leaves it out of the golden PCRs.
const imaPCR = 10

// ReferenceUnsafe returns the policy a reference attestation is read
// against by policy init: every TPM mode, IMA in the given scope with no
// rules (violations and every template accepted), every bank. It trusts no
// key and accepts no builder id: the verifier that reads the reference
// takes those from the attestation itself. Never use it to verify.
func ReferenceUnsafe(scope IMAScope) *Policy {
	return &Policy{
		modes: []string{predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim},
		ima: imaPolicy{
			scope: scope, maxEntries: DefaultMaxIMAEntries, maxLogBytes: DefaultMaxIMALogBytes,
			allowViolations: true, anyTemplate: true,
			allow: runtimepolicy.NewAllowlist(), keylimeAllow: runtimepolicy.NewAllowlist(),
			banks: append(DefaultIMABanks(), "sha1"), // the reference's bank is written out, sha1 with a warning
		},
	}
}

// Reference is what a verified reference attestation showed: the input of
// FromReference (attest-build policy init). It is trusted as far as the
// verification that filled it went; FromReference writes it out as it is.
type Reference struct {
	// Source names the attestation in the policy's header comment; SHA256
	// is the attestation file's digest (hex) and Now stamps the header.
	Source string
	SHA256 string
	Now    time.Time
	// Scope of the IMA rules written.
	Scope IMAScope
	// Signers verified the attestation's envelopes; none when the
	// signature was not checked, and then KeyIDs are the envelopes' hints.
	Signers []TrustedKey
	KeyIDs  []string
	// AK is the attestation key that signed the quotes.
	AK TrustedKey
	// AKCA, when set, is the attestation CA that certified the AK, and the
	// envelopes were signed by a TPM-resident key the AK certified: the
	// policy then trusts the CA and names neither the AK nor a signer.
	AKCA *x509.Certificate
	// BuilderID and TPMMode are the attestation's.
	BuilderID string
	TPMMode   string
	// PCRs are the end quote's verified values.
	PCRs []tpm.PCRValue
	// IMA is the predicate's IMA section (presence, bank, reason).
	IMA predicates.IMA
	// Entries are the IMA entries in scope, as NewReferenceIMA collected them.
	Entries *ReferenceIMA
	// RuntimePolicy, when set, receives an allowlist longer than
	// MaxInlineAllow paths as a Keylime runtime policy, which the policy
	// names instead of listing the paths (the YAML stays reviewable, and
	// loads fast). Without it every path is listed in ima.allow.
	RuntimePolicy *RuntimePolicyOutput
	// Boot is the boot state read from the reference's replayed firmware
	// event log; nil without one, and BootReason says why.
	Boot       *bootlog.State
	BootReason string
}

// RuntimePolicyOutput is where FromReference writes a long allowlist: a
// file the policy names as Name (relative to the policy's folder), written
// by Write, which calls its argument with the file's writer.
type RuntimePolicyOutput struct {
	Name  string
	Write func(func(io.Writer) error) error
	// Paths is set to the number of paths written (0: none was).
	Paths int
}

// MaxInlineAllow is the longest allowlist FromReference writes into the
// policy itself when it may write a runtime policy beside it.
const MaxInlineAllow = 300

// maxNamed caps the violations and templates a comment names.
const maxNamed = 5

// ReferenceIMA is what policy init saw of the reference log's entries in
// scope: the measured paths with their digests, the violations and the
// entries the verifier cannot decode (by template).
type ReferenceIMA struct {
	paths      []string
	digests    map[string][]string
	violations []string // "entry N (path)", the first maxNamed
	nViolation int
	templates  map[string]int // undecodable template -> entries
}

// NewReferenceIMA returns an empty collector; pass its Add to
// IMARules.NewEvaluation.
func NewReferenceIMA() *ReferenceIMA {
	return &ReferenceIMA{digests: map[string][]string{}, templates: map[string]int{}}
}

// Add records one entry in scope.
func (r *ReferenceIMA) Add(m Measurement) {
	switch {
	case m.Violation:
		r.nViolation++
		if len(r.violations) < maxNamed {
			r.violations = append(r.violations, fmt.Sprintf("entry %d (%s)", m.Index, orNone(m.Path)))
		}
		return
	case m.Undecoded != "":
		// Refused by the rule template unless named in ima.templates; no
		// allowlist entry could match it.
		r.templates[m.Template]++
		return
	}
	if _, ok := r.digests[m.Path]; !ok {
		r.paths = append(r.paths, m.Path)
	}
	if d := m.DigestString(); !slices.Contains(r.digests[m.Path], d) {
		r.digests[m.Path] = append(r.digests[m.Path], d)
	}
}

// undecodable describes the undecodable templates seen, sorted.
func (r *ReferenceIMA) undecodable() (names []string, entries int) {
	for name, n := range r.templates {
		names = append(names, name)
		entries += n
	}
	sort.Strings(names)
	return names, entries
}

// policyWriter builds the YAML document as a node tree, so that values are
// quoted correctly and comments sit where a reviewer needs them.
type policyWriter struct{}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func quoted(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.DoubleQuotedStyle}
}

func literal(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.LiteralStyle}
}

func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		k := scalar(kv[i].(string))
		n.Content = append(n.Content, k, kv[i+1].(*yaml.Node))
	}
	return n
}

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

func flowSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: items}
}

// comment sets the head comment of the key at key in mapping m.
func comment(m *yaml.Node, key, text string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i].HeadComment = text
			return
		}
	}
}

func pemOf(pub crypto.PublicKey) (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	return string(b), err
}

// FromReference writes a starting policy (YAML, commented for review) that
// trusts what ref shows: its signers, attestation key, builder id and TPM
// mode, the end quote's PCRs (PCR 10 left out: it changes with every
// measurement) and every path measured in the IMA scope with its digests.
// What it writes is checked to load.
func FromReference(ref *Reference) ([]byte, error) {
	return policyWriter{}.write(ref)
}

func (w policyWriter) write(r *Reference) ([]byte, error) {
	signers, err := w.signers(r)
	if err != nil {
		return nil, err
	}
	var trustAK []any
	if r.AKCA != nil {
		trustAK = []any{"attestationKeyCAs", seq(mapping("name", quoted(r.AKCA.Subject.CommonName),
			"certificate", literal(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.AKCA.Raw})))))}
	} else {
		builders, err := w.builders(r)
		if err != nil {
			return nil, err
		}
		trustAK = []any{"builders", builders}
	}
	ima, err := w.ima(r)
	if err != nil {
		return nil, err
	}
	root := mapping(append(append([]any{
		"version", scalar(strconv.Itoa(PolicyVersion)),
		"signers", signers},
		trustAK...),
		"builderIds", seq(scalar(r.BuilderID)),
		"tpmModes", flowSeq(scalar(r.TPMMode)),
		"pcrs", w.pcrs(r),
		"ima", ima,
	)...)
	w.comments(root, r)
	boot := bootSection(r.Boot, r.BootReason)
	root.Content = append(root.Content, scalar("boot"), boot)
	root.Content[len(root.Content)-2].HeadComment, boot.HeadComment = boot.HeadComment, ""
	root.Content = append(root.Content, scalar("maxAge"), scalar("30d"))
	root.Content[len(root.Content)-2].HeadComment = "Refuse attestations of builds that finished longer ago than this."
	return w.encode(root)
}

// signers is the signers section: the keys that verified the reference.
func (policyWriter) signers(r *Reference) (*yaml.Node, error) {
	signers := seq()
	for _, s := range r.Signers {
		pemText, err := pemOf(s.PublicKey)
		if err != nil {
			return nil, err
		}
		signers.Content = append(signers.Content, mapping("name", scalar("signer"), "fingerprint", scalar(s.Fingerprint), "publicKey", literal(pemText)))
	}
	return signers, nil
}

// builders is the builders section: one builder with the reference's AK.
func (policyWriter) builders(r *Reference) (*yaml.Node, error) {
	akPEM, err := pemOf(r.AK.PublicKey)
	if err != nil {
		return nil, err
	}
	builderName := "builder-" + strings.TrimPrefix(r.AK.Fingerprint, "sha256:")[:12]
	return seq(mapping("name", scalar(builderName), "attestationKeys",
		seq(mapping("fingerprint", scalar(r.AK.Fingerprint), "publicKey", literal(akPEM))))), nil
}

// pcrs is the pcrs section: the end quote's values (verified), PCR 10
// left out, by bank.
func (policyWriter) pcrs(r *Reference) *yaml.Node {
	pcrs := mapping()
	banks := map[string]*yaml.Node{}
	var bankOrder []string
	for _, v := range r.PCRs {
		if v.Index == imaPCR {
			continue
		}
		b, ok := banks[v.Bank]
		if !ok {
			b = mapping()
			banks[v.Bank] = b
			bankOrder = append(bankOrder, v.Bank)
		}
		b.Content = append(b.Content, scalar(strconv.Itoa(v.Index)), quoted(hex.EncodeToString(v.Value)))
	}
	sort.Strings(bankOrder)
	for _, b := range bankOrder {
		pcrs.Content = append(pcrs.Content, scalar(b), banks[b])
	}
	return pcrs
}

// ima is the ima section: every path measured in scope with its digests,
// and comments on what the reference showed that the rules would refuse.
func (policyWriter) ima(r *Reference) (*yaml.Node, error) {
	ref := r.Entries
	allow := seq()
	var keylime *yaml.Node
	if out := r.RuntimePolicy; out != nil && len(ref.paths) > MaxInlineAllow {
		if err := out.Write(ref.writeRuntimePolicy); err != nil {
			return nil, fmt.Errorf("writing the allowlist as a runtime policy: %w", err)
		}
		out.Paths = len(ref.paths)
		keylime = flowSeq(quoted(out.Name))
		allow.Style = yaml.FlowStyle
	}
	for _, path := range ref.paths {
		if keylime != nil {
			break
		}
		ds := seq()
		ds.Style = yaml.FlowStyle
		for _, d := range ref.digests[path] {
			ds.Content = append(ds.Content, scalar(d))
		}
		// A path holding *, ?, [, {, } or \ is escaped to stay an exact path.
		allow.Content = append(allow.Content, mapping("path", quoted(pathglob.Escape(path)), "digests", ds))
	}
	imaBanks := flowSeq()
	for _, b := range DefaultIMABanks() {
		imaBanks.Content = append(imaBanks.Content, scalar(b))
	}
	if r.IMA.Present && !slices.Contains(DefaultIMABanks(), r.IMA.Bank) {
		imaBanks.Content = append(imaBanks.Content, scalar(r.IMA.Bank))
	}
	required := "true"
	if !r.IMA.Present {
		required = "false"
	}
	ima := mapping(
		"required", scalar(required),
		"scope", scalar(string(r.Scope)),
		"banks", imaBanks,
		"allowViolations", scalar("false"),
		"templates", flowSeq(),
		"allow", allow,
		"exclude", flowSeq(),
		"deny", flowSeq(),
	)
	if keylime != nil {
		ima.Content = append(ima.Content, scalar("keylimeRuntimePolicy"), keylime)
		comment(ima, "keylimeRuntimePolicy", fmt.Sprintf("Every path measured in scope (%d) with the digests seen, as a Keylime runtime policy\n(paths as the kernel logs them: spaces as '_'). Tighten it, or list\npaths here under allow (patterns too: /usr/lib/**/*.so*).", len(ref.paths)))
	}
	if r.IMA.Present {
		comment(ima, "required", "Kernel IMA evidence must be present.")
	} else {
		comment(ima, "required", "The reference attestation carries no IMA log ("+r.IMA.Reason+"): set true to demand one.")
	}
	if r.IMA.Present && r.IMA.Bank == "sha1" {
		comment(ima, "banks", "PCR banks the IMA log may be replayed against. The reference attestation replays against\nsha1, so it is named here: remove it if your TPMs have a sha256 bank (sha1 is weak, and the\nattestation chooses the bank).")
	} else {
		comment(ima, "banks", "PCR banks the IMA log may be replayed against (the attestation chooses; sha1 only if named).")
	}
	comment(ima, "scope", "boot: every entry since boot (the default); window: only the entries appended during the\nbuild, which trusts the signing key for where the window starts (docs/threat-model.md).")
	if ref.nViolation > 0 {
		named := strings.Join(ref.violations, ", ")
		if ref.nViolation > len(ref.violations) {
			named += fmt.Sprintf(" and %d more", ref.nViolation-len(ref.violations))
		}
		comment(ima, "allowViolations", fmt.Sprintf("IMA violations (files measured while open for write) are refused. The reference log has\n%d in scope, so this policy REFUSES its own reference until you decide: %s.\nSet true only if such violations are expected.", ref.nViolation, named))
	} else {
		comment(ima, "allowViolations", "IMA violations (files measured while open for write) are refused.")
	}
	if names, n := ref.undecodable(); n > 0 {
		if len(names) > maxNamed {
			names = append(names[:maxNamed], "...")
		}
		comment(ima, "templates", fmt.Sprintf("Entries of templates this verifier cannot decode into a path and digest are refused. The\nreference log has %d in scope (templates %s), so this policy REFUSES its own\nreference until you decide. Naming a template accepts its entries unchecked, and the\nkernel does not hash template names: read docs/policy.md (Templates) first.", n, strings.Join(names, ", ")))
	} else {
		comment(ima, "templates", "Templates whose entries are accepted without path checks (none: every entry in scope decodes).")
	}
	if keylime != nil {
		comment(ima, "allow", "Accepted paths and digests beside the runtime policy below (none).")
	} else {
		comment(ima, "allow", fmt.Sprintf("Every path measured in scope (%d) with the digests seen. Tighten: remove what the build\nshould not run or read; widen with patterns (/usr/lib/**/*.so*); import Keylime\nruntime policies with keylimeRuntimePolicy: [FILE].", len(allow.Content)))
	}
	comment(ima, "exclude", "Paths whose measurements are not checked, e.g. [\"/var/log/**\"].")
	comment(ima, "deny", "Paths that must never be measured, e.g. [\"/tmp/**\"] (executions or reads under /tmp).")
	return ima, nil
}

// writeRuntimePolicy writes the paths and digests seen as a Keylime
// runtime policy, each path as the log holds it: the kernel logs a path's
// spaces as '_' already (both logs), and Keylime looks the logged path up
// as it is.
func (r *ReferenceIMA) writeRuntimePolicy(w io.Writer) error {
	pw := runtimepolicy.NewWriter(w)
	for _, path := range r.paths {
		var ds [][]byte
		for _, d := range r.digests[path] {
			v, err := runtimepolicy.ParseDigest(d)
			if err != nil {
				return err
			}
			ds = append(ds, v.Bytes)
		}
		if err := pw.Add(path, ds...); err != nil {
			return err
		}
	}
	return pw.Close(nil)
}

// comments sets the head comments of the document and its top-level
// sections.
func (policyWriter) comments(root *yaml.Node, r *Reference) {
	mode := r.TPMMode
	source := r.Source
	if source == "" {
		source = "an attestation"
	}
	root.HeadComment = fmt.Sprintf("attest-build trust policy (docs/policy.md), made by 'attest-build policy init'\nfrom %s (SHA-256 %s) on %s.\nIt trusts what that attestation shows: review every section before use.",
		source, r.SHA256, r.Now.UTC().Format(time.RFC3339))
	switch {
	case r.AKCA != nil && len(r.Signers) == 0:
		comment(root, "signers", "None needed: the reference attestation was signed by a key that lives in the TPM, certified\nby an attestation key that the CA below certified. Keys listed here are trusted as well.")
	case len(r.Signers) == 0:
		ids := strings.Join(uniqueNonEmpty(r.KeyIDs), ", ")
		comment(root, "signers", "Keys whose DSSE signatures are trusted. The reference attestation was signed by key id\n"+orNone(ids)+" and NOT checked: add its public key here (publicKey or publicKeyFile),\nor pass --key to 'attest-build verify'.")
	default:
		comment(root, "signers", "Keys whose DSSE signatures are trusted (the reference attestation verified with them).")
	}
	if r.AKCA != nil {
		comment(root, "attestationKeyCAs", fmt.Sprintf("Trusted attestation CAs: any AK with a certificate from one is trusted, and so is a DSSE\nsigning key that AK certified in its TPM. This is the CA the reference attestation carried\n(%q): CHECK that it is yours (attest-build ca init made DIR/ca.pem). Add crlFile: when the CA\npublishes a revocation list.", r.AKCA.Subject.String()))
	} else {
		comment(root, "builders", "Trusted TPM attestation keys, grouped by builder; rename the builder.")
	}
	comment(root, "builderIds", "Accepted SLSA builder.id values.")
	switch mode {
	case predicates.ModeSim:
		comment(root, "tpmModes", "WARNING: the reference attestation was made with the TPM SIMULATOR, so this policy accepts\nsim mode, which proves nothing about hardware. Use it for tests only; production: [device].")
	case predicates.ModeSwtpm:
		comment(root, "tpmModes", "WARNING: the reference attestation was made with swtpm (a software TPM), so this policy\naccepts swtpm mode, which proves nothing about hardware. Production: [device].")
	default:
		comment(root, "tpmModes", "Accepted TPM modes: device (a hardware or firmware TPM).")
	}
	comment(root, "pcrs", "Golden PCR values from the reference end quote (PCR 10, IMA's, changes with every\nmeasurement and is left out). Remove the PCRs that legitimately vary between builders.")
	comment(root, "ima", "IMA rules.")
}

// encode writes the document and checks that it loads.
func (policyWriter) encode(root *yaml.Node) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("writing policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing policy: %w", err)
	}
	out := []byte(b.String())
	// What we write must load: a generated policy that does not is a bug.
	l := &policyLoader{file: "generated policy", dir: ".", data: bytes.Clone(out), noFiles: true}
	if _, err := l.parse(); err != nil {
		return nil, fmt.Errorf("the generated policy does not load (a bug): %w", err)
	}
	return out, nil
}

func uniqueNonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
