package provenance

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"gopkg.in/yaml.v3"

	"github.com/attest-build/attest-build/predicates"
)

// PolicyInitOptions configure InitPolicy.
type PolicyInitOptions struct {
	// Scope of the IMA rules: ScopeBoot (default) or ScopeWindow.
	Scope IMAScope
	// SignerKeys, when given, must verify the attestation's envelopes and
	// become the policy's signers. Without them the signature is not checked
	// and the policy names no signer (pass --key to verify).
	SignerKeys []crypto.PublicKey
	// Source names the attestation in the policy's header comment.
	Source string
	// Now stamps the header (default time.Now).
	Now func() time.Time
}

// InitPolicy writes a starting policy (YAML, commented for review) from a
// known-good attestation: its signer (when SignerKeys are given), its
// attestation key, builder id and TPM mode, the PCR values of its end quote
// (PCR 10 left out: it changes with every measurement) and every path
// measured in the IMA scope with its digests.
//
// The attestation is checked first as Verify would, except that its
// attestation key, builder id and TPM mode are taken from it and its
// subjects are the artifacts: the quotes, the nonce, the boot and the IMA
// replay must hold. A policy from a simulator or swtpm attestation accepts
// that mode, and says so.
func InitPolicy(ctx context.Context, attestation io.Reader, opts PolicyInitOptions) ([]byte, error) {
	if opts.Scope == "" {
		opts.Scope = ScopeBoot
	}
	if _, err := ParseIMAScope(string(opts.Scope)); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	boot := &Policy{
		modes: []string{predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim},
		ima: imaPolicy{
			scope: opts.Scope, maxEntries: DefaultMaxIMAEntries, maxLogBytes: DefaultMaxIMALogBytes,
			allowViolations: true, anyTemplate: true, exact: map[string]map[string]bool{},
			banks: append(DefaultIMABanks(), "sha1"), // the reference's bank is written out, sha1 with a warning
		},
	}
	v := &Verifier{policy: boot, maxBytes: DefaultMaxAttestationBytes, maxSubjects: DefaultMaxSubjects, now: opts.Now, bootstrapUnsafe: true}
	if len(opts.SignerKeys) > 0 {
		keys, err := signerKeys(nil, opts.SignerKeys)
		if err != nil {
			return nil, err
		}
		if v.signers, v.sigVerifiers, err = signatureVerifiers(keys); err != nil {
			return nil, err
		}
	}
	ref := &referenceIMA{digests: map[string][]string{}, templates: map[string]int{}}
	v.collect = ref.add
	h := sha256.New()
	vr, err := v.verify(ctx, io.TeeReader(attestation, h), sizeHint(attestation), nil)
	if err != nil {
		return nil, fmt.Errorf("the reference attestation does not verify: %w", err)
	}
	w := &policyWriter{}
	return w.write(vr, opts, hex.EncodeToString(h.Sum(nil)), ref)
}

// maxNamed caps the violations and templates a comment names.
const maxNamed = 5

// referenceIMA is what InitPolicy saw of the reference log's entries in
// scope: the measured paths with their digests, the violations and the
// entries the verifier cannot decode (by template).
type referenceIMA struct {
	paths      []string
	digests    map[string][]string
	violations []string // "entry N (path)", the first maxNamed
	nViolation int
	templates  map[string]int // undecodable template -> entries
}

func (r *referenceIMA) add(m measurement) {
	switch {
	case m.violation:
		r.nViolation++
		if len(r.violations) < maxNamed {
			r.violations = append(r.violations, fmt.Sprintf("entry %d (%s)", m.index, orNone(m.path)))
		}
		return
	case m.undecoded != "":
		// Refused by the rule template unless named in ima.templates; no
		// allowlist entry could match it.
		r.templates[m.template]++
		return
	}
	if _, ok := r.digests[m.path]; !ok {
		r.paths = append(r.paths, m.path)
	}
	if !slices.Contains(r.digests[m.path], m.digest) {
		r.digests[m.path] = append(r.digests[m.path], m.digest)
	}
}

// undecodable describes the undecodable templates seen, sorted.
func (r *referenceIMA) undecodable() (names []string, entries int) {
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

func (policyWriter) write(vr *verification, opts PolicyInitOptions, attSHA string, ref *referenceIMA) ([]byte, error) {
	p := vr.pred
	facts := vr.rep.report.Facts
	mode := p.TPM.Mode

	signers := seq()
	for _, s := range vr.v.signers {
		pemText, err := pemOf(s.pub)
		if err != nil {
			return nil, err
		}
		signers.Content = append(signers.Content, mapping("name", scalar("signer"), "fingerprint", scalar(s.fingerprint), "publicKey", literal(pemText)))
	}
	akPEM, err := pemOf(vr.ak.pub)
	if err != nil {
		return nil, err
	}
	builderName := "builder-" + strings.TrimPrefix(vr.ak.fingerprint, "sha256:")[:12]
	builders := seq(mapping("name", scalar(builderName), "attestationKeys",
		seq(mapping("fingerprint", scalar(vr.ak.fingerprint), "publicKey", literal(akPEM)))))

	// PCRs of the end quote (verified), PCR 10 left out.
	pcrs := mapping()
	banks := map[string]*yaml.Node{}
	var bankOrder []string
	for _, v := range vr.quotes[1].PCRs {
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

	allow := seq()
	for _, path := range ref.paths {
		ds := seq()
		ds.Style = yaml.FlowStyle
		for _, d := range ref.digests[path] {
			ds.Content = append(ds.Content, scalar(d))
		}
		allow.Content = append(allow.Content, mapping("path", quoted(path), "digests", ds))
	}
	imaBanks := flowSeq()
	for _, b := range DefaultIMABanks() {
		imaBanks.Content = append(imaBanks.Content, scalar(b))
	}
	if p.IMA.Present && !slices.Contains(DefaultIMABanks(), p.IMA.Bank) {
		imaBanks.Content = append(imaBanks.Content, scalar(p.IMA.Bank))
	}
	required := "true"
	if !p.IMA.Present {
		required = "false"
	}
	ima := mapping(
		"required", scalar(required),
		"scope", scalar(string(opts.Scope)),
		"banks", imaBanks,
		"allowViolations", scalar("false"),
		"templates", flowSeq(),
		"allow", allow,
		"exclude", flowSeq(),
		"deny", flowSeq(),
	)
	if p.IMA.Present {
		comment(ima, "required", "Kernel IMA evidence must be present.")
	} else {
		comment(ima, "required", "The reference attestation carries no IMA log ("+p.IMA.Reason+"): set true to demand one.")
	}
	if p.IMA.Present && p.IMA.Bank == "sha1" {
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
	comment(ima, "allow", fmt.Sprintf("Every path measured in scope (%d) with the digests seen. Tighten: remove what the build\nshould not run or read; widen with patterns (/usr/lib/**/*.so*); import Keylime\nruntime policies with keylimeRuntimePolicy: [FILE].", len(allow.Content)))
	comment(ima, "exclude", "Paths whose measurements are not checked, e.g. [\"/var/log/**\"].")
	comment(ima, "deny", "Paths that must never be measured, e.g. [\"/tmp/**\"] (executions or reads under /tmp).")

	modes := flowSeq(scalar(mode))
	builderIDs := seq(scalar(facts.BuilderID))
	root := mapping(
		"version", scalar(strconv.Itoa(PolicyVersion)),
		"signers", signers,
		"builders", builders,
		"builderIds", builderIDs,
		"tpmModes", modes,
		"pcrs", pcrs,
		"ima", ima,
	)
	source := opts.Source
	if source == "" {
		source = "an attestation"
	}
	root.HeadComment = fmt.Sprintf("attest-build trust policy (docs/policy.md), made by 'attest-build policy init'\nfrom %s (SHA-256 %s) on %s.\nIt trusts what that attestation shows: review every section before use.",
		source, attSHA, opts.Now().UTC().Format(time.RFC3339))
	if len(vr.v.signers) == 0 {
		ids := strings.Join(uniqueNonEmpty(vr.keyIDs), ", ")
		comment(root, "signers", "Keys whose DSSE signatures are trusted. The reference attestation was signed by key id\n"+orNone(ids)+" and NOT checked: add its public key here (publicKey or publicKeyFile),\nor pass --key to 'attest-build verify'.")
	} else {
		comment(root, "signers", "Keys whose DSSE signatures are trusted (the reference attestation verified with them).")
	}
	comment(root, "builders", "Trusted TPM attestation keys, grouped by builder; rename the builder.")
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
	bootReason := "none carried"
	if b := facts.Boot; b != nil && b.Reason != "" {
		bootReason = b.Reason
	}
	root.Content = append(root.Content, scalar("boot"), bootSection(vr.boot, bootReason))
	root.Content[len(root.Content)-2].HeadComment = root.Content[len(root.Content)-1].HeadComment
	root.Content[len(root.Content)-1].HeadComment = ""
	root.Content = append(root.Content, scalar("maxAge"), scalar("30d"))
	root.Content[len(root.Content)-2].HeadComment = "Refuse attestations of builds that finished longer ago than this."
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
	if _, err := ParsePolicy(out, "generated policy"); err != nil {
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
