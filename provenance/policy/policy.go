package policy

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/internal/cappedfile"
	"github.com/attest-build/attest-build/internal/pathglob"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/runtimepolicy"
	"github.com/attest-build/attest-build/tpm"
)

// PolicyVersion is the only policy file version this package reads.
const PolicyVersion = 1

// Defaults of a policy that leaves a setting out.
const (
	// DefaultMaxIMAEntries caps the entries of a carried IMA log; a longer
	// log is refused before any replay.
	DefaultMaxIMAEntries = 1_000_000
	// DefaultMaxIMALogBytes caps the uncompressed size of a carried IMA log
	// (a zstd or gzip bomb is refused once it decompresses past it).
	// 256 MiB holds a million ima-ng entries, or some 400,000 ima-sig ones
	// with signatures; reading and hashing it costs about 1.5 s of CPU
	// (docs/benchmarks.md, adversarial inputs).
	DefaultMaxIMALogBytes = 256 << 20
)

// IMAScope says which IMA entries a policy's rules apply to.
type IMAScope string

// IMA scopes.
const (
	// ScopeWindow: the entries appended during the build (the window).
	ScopeWindow IMAScope = "window"
	// ScopeBoot: every entry from boot up to the end quote.
	ScopeBoot IMAScope = "boot"
)

// DefaultIMABanks are the PCR banks an IMA log may be replayed against when
// a policy names none: the attestation picks the bank, and sha1 is left out
// so that a signer cannot choose the weak one when the quotes cover both.
func DefaultIMABanks() []string { return []string{"sha256", "sha384", "sha512"} }

// ParseIMAScope parses "window" or "boot".
func ParseIMAScope(s string) (IMAScope, error) {
	switch IMAScope(s) {
	case ScopeWindow, ScopeBoot:
		return IMAScope(s), nil
	}
	return "", fmt.Errorf("%w: IMA scope %q is not window or boot", ErrPolicy, s)
}

// ErrPolicy reports a policy that cannot be used; PolicyError carries where.
var ErrPolicy = errors.New("invalid policy")

// PolicyError names the file, line and field of a policy that failed to load.
type PolicyError struct {
	File  string // the policy file, or "" for bytes
	Line  int    // 1-based; 0 when unknown
	Field string // path of the field, e.g. "ima.allow[3].digests[0]"
	Err   error
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *PolicyError) Unwrap() error { return e.Err }

// Is makes every PolicyError match ErrPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// Policy is a loaded, validated trust policy. Its fields are unexported: a
// Policy comes only from LoadPolicy or ParsePolicy, which check every field.
// The file format is documented in docs/policy.md.
type Policy struct {
	source     string
	signers    []TrustedKey
	aks        []TrustedKey // name: the builder the AK belongs to
	akCAs      []AttestationKeyCA
	builderIDs []string
	modes      []string
	pcrs       []GoldenPCR
	ima        imaPolicy
	boot       bootlog.Policy
	maxAge     time.Duration
	srcRule    *SourceRule
}

// TrustedKey is a public key the policy trusts, with its name (a signer's, or
// the builder an attestation key belongs to) and its tpm.Fingerprint.
type TrustedKey struct {
	Name        string
	PublicKey   crypto.PublicKey
	Fingerprint string
}

// GoldenPCR is a PCR value the quotes must show.
type GoldenPCR struct {
	Bank  string
	Index int
	Value []byte
}

type imaPolicy struct {
	required        bool
	scope           IMAScope
	maxEntries      int
	maxLogBytes     int64
	allowViolations bool
	// banks are the PCR banks the IMA log may be replayed against.
	banks []string
	// templates names templates the verifier cannot decode into a path and
	// digest whose entries are accepted unchecked.
	templates []string
	// anyTemplate accepts entries of every undecodable template unchecked:
	// ReferenceUnsafe only (policy init reading its reference), never from a file.
	anyTemplate bool
	// allowlist is set when the policy has an allowlist (ima.allow, even
	// empty, or a Keylime runtime policy, even with no digests): then only
	// what it lists is allowed, and an empty one allows nothing.
	allowlist bool
	// allow holds the allow rules without wildcards: path to accepted
	// digests; keylimeAllow the imported runtime policies' digests. Both
	// are looked up with the path as the kernel logged it (its spaces
	// already '_', in the binary log as in the ascii one).
	allow        *runtimepolicy.Allowlist
	keylimeAllow *runtimepolicy.Allowlist
	patterns     []patternRule
	// excludes are ima.exclude's patterns; keylimeExcludes the imported
	// runtime policies' excludes (regular expressions, as Keylime has them).
	excludes        []pathglob.Pattern
	keylimeExcludes []*regexp.Regexp
	deny            []patternRule
	// keylime names the imported runtime policies, for messages.
	keylime []string
	// pending is the import of the Keylime runtime policies when it runs
	// in the background (LoadPolicyConcurrent): keylimeAllow and the
	// excludes are theirs to read only once it is done.
	pending *keylimeLoad
}

// keylimeLoad is a background import of Keylime runtime policies into an
// imaPolicy's keylimeAllow.
type keylimeLoad struct {
	files    []*os.File               // opened by the loader, closed when read
	allow    *runtimepolicy.Allowlist // the imaPolicy's keylimeAllow
	done     chan struct{}
	err      error            // the first policy's error, a *PolicyError
	excludes []*regexp.Regexp // set when done without error
}

// wait blocks until the import is done and returns its error.
func (k *keylimeLoad) wait() error {
	<-k.done
	return k.err
}

type patternRule struct {
	glob    pathglob.Pattern
	digests map[string]bool
}

// hasAllowlist reports whether the policy has an allowlist; without one
// every measured file is accepted (deny and violation rules still apply).
// An allowlist that is present lists what is allowed: an empty one
// (allow: [], or a Keylime policy without digests) allows nothing, it does
// not switch the allowlist off.
func (p *imaPolicy) hasAllowlist() bool { return p.allowlist }

// Source is the file the policy was loaded from ("" for bytes).
func (p *Policy) Source() string { return p.source }

// Signers returns the trusted DSSE signer keys.
func (p *Policy) Signers() []TrustedKey { return slices.Clone(p.signers) }

// AttestationKeys returns the trusted TPM attestation keys; each one's Name
// is the builder it belongs to.
func (p *Policy) AttestationKeys() []TrustedKey { return slices.Clone(p.aks) }

// BuilderIDs returns the accepted SLSA builder.id values.
func (p *Policy) BuilderIDs() []string { return slices.Clone(p.builderIDs) }

// TPMModes returns the accepted TPM modes (predicates.ModeDevice, ...).
func (p *Policy) TPMModes() []string { return slices.Clone(p.modes) }

// GoldenPCRs returns the PCR values the quotes must show, by bank and index.
func (p *Policy) GoldenPCRs() []GoldenPCR { return slices.Clone(p.pcrs) }

// MaxAge is how long ago a build may have finished (0: no limit).
func (p *Policy) MaxAge() time.Duration { return p.maxAge }

// Boot returns the policy's boot rules (the boot: section; a copy).
func (p *Policy) Boot() bootlog.Policy { return p.boot }

// IMA returns the policy's IMA rules.
func (p *Policy) IMA() *IMARules { return &IMARules{p: &p.ima} }

// IMARules are a policy's IMA settings and rules, read-only.
type IMARules struct{ p *imaPolicy }

// Required says whether the attestation must carry an IMA log.
func (r *IMARules) Required() bool { return r.p.required }

// Scope says which entries the rules apply to.
func (r *IMARules) Scope() IMAScope { return r.p.scope }

// Banks are the PCR banks the IMA log may be replayed against.
func (r *IMARules) Banks() []string { return slices.Clone(r.p.banks) }

// MaxEntries caps the entries of a carried IMA log.
func (r *IMARules) MaxEntries() int { return r.p.maxEntries }

// MaxLogBytes caps the uncompressed size of a carried IMA log.
func (r *IMARules) MaxLogBytes() int64 { return r.p.maxLogBytes }

// policyFile is the YAML document; see docs/policy.md.
type policyFile struct {
	Version    int           `yaml:"version"`
	Signers    []keyYAML     `yaml:"signers"`
	Builders   []builderYAML `yaml:"builders"`
	AKCAs      []akCAYAML    `yaml:"attestationKeyCAs"`
	BuilderIDs []string      `yaml:"builderIds"`
	TPMModes   []string      `yaml:"tpmModes"`
	// PCRs maps a bank to PCR index to lowercase hex value.
	PCRs   map[string]map[int]string `yaml:"pcrs"`
	IMA    imaYAML                   `yaml:"ima"`
	Boot   bootlog.Policy            `yaml:"boot"`
	MaxAge string                    `yaml:"maxAge"`
	Source *sourceYAML               `yaml:"source"`
}

type keyYAML struct {
	Name          string `yaml:"name"`
	PublicKey     string `yaml:"publicKey"`
	PublicKeyFile string `yaml:"publicKeyFile"`
	// Fingerprint, when given, must equal the key's: a reviewer's check.
	Fingerprint string `yaml:"fingerprint"`
}

type builderYAML struct {
	Name            string    `yaml:"name"`
	AttestationKeys []keyYAML `yaml:"attestationKeys"`
}

type imaYAML struct {
	Required               *bool       `yaml:"required"`
	Scope                  string      `yaml:"scope"`
	MaxEntries             int         `yaml:"maxEntries"`
	MaxLogBytes            int64       `yaml:"maxLogBytes"`
	AllowViolations        bool        `yaml:"allowViolations"`
	Templates              []string    `yaml:"templates"`
	Banks                  []string    `yaml:"banks"`
	Allow                  []allowYAML `yaml:"allow"`
	Exclude                []string    `yaml:"exclude"`
	Deny                   []string    `yaml:"deny"`
	KeylimeRuntimePolicies []string    `yaml:"keylimeRuntimePolicy"`
}

type allowYAML struct {
	Path    string   `yaml:"path"`
	Digests []string `yaml:"digests"`
}

// maxPolicyBytes caps a policy file (and an imported Keylime policy).
const maxPolicyBytes = 64 << 20

// LoadPolicy reads and validates a policy file. Relative key files and
// Keylime runtime policies are resolved against the policy file's folder.
// Every error is a *PolicyError naming the line and field (errors.Is
// ErrPolicy), or an I/O error reading the file.
func LoadPolicy(path string) (*Policy, error) {
	return loadPolicy(path, false)
}

// LoadPolicyConcurrent is LoadPolicy with the Keylime runtime policies the
// policy imports (ima.keylimeRuntimePolicy) read on another goroutine, so
// that a caller reads its evidence meanwhile. The files are opened before
// it returns (an error opening one is returned as LoadPolicy's); an error
// in their content comes from Policy.Wait, which the caller must check
// before it reports anything: a verification under the policy waits for
// the import (IMARules.NewEvaluation), and if the import failed every
// entry it evaluates is a finding naming the error.
func LoadPolicyConcurrent(path string) (*Policy, error) {
	return loadPolicy(path, true)
}

// Wait waits for the Keylime runtime policies loaded in the background
// (LoadPolicyConcurrent) and returns their error, a *PolicyError naming
// the field and file (errors.Is ErrPolicy); nil at once for a policy
// loaded otherwise.
func (p *Policy) Wait() error {
	if p.ima.pending == nil {
		return nil
	}
	return p.ima.pending.wait()
}

func loadPolicy(path string, concurrent bool) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	defer f.Close()
	hint, at := 0, int64(-1)
	if fi, err := f.Stat(); err == nil {
		hint = int(min(fi.Size(), maxPolicyBytes))
		if fi.Mode().IsRegular() && fi.Size() <= maxPolicyBytes {
			at = splitAt(fi.Size())
		}
	}
	l := &policyLoader{file: path, dir: filepath.Dir(path), concurrent: concurrent}
	capped := &io.LimitedReader{R: f, N: maxPolicyBytes + 1}
	var fast bool
	if at >= 0 {
		// The file as it is now (hint is its size), its allow block read
		// in two parts at once.
		fast, err = l.splitFrom(io.NewSectionReader(f, 0, int64(hint)), hint, f, at)
	} else {
		fast, err = l.split(capped, hint)
	}
	if err == nil && capped.N <= 0 {
		err = fmt.Errorf("%s is larger than %d bytes", path, maxPolicyBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	if !fast {
		if l.data, err = readCapped(path, maxPolicyBytes); err != nil {
			return nil, fmt.Errorf("reading policy: %w", err)
		}
	}
	p, err := l.parse()
	if k := l.pending; k != nil {
		if err != nil {
			k.abandon()
			return nil, err
		}
		k.start(l)
	}
	return p, err
}

// ParsePolicy validates a policy given as YAML bytes; name labels errors.
// Relative file references resolve against the working directory.
func ParsePolicy(data []byte, name string) (*Policy, error) {
	l := &policyLoader{file: name, dir: "."}
	if fast, _ := l.split(bytes.NewReader(data), len(data)); !fast {
		l.data = data
	}
	return l.parse()
}

func readCapped(path string, limit int64) ([]byte, error) { return cappedfile.Read(path, limit) }

// policyLoader finds the line of a field in the document's node tree,
// parsed only when an error needs it.
type policyLoader struct {
	file string
	dir  string
	data []byte
	// fast is set when splitAllow read the ima.allow block (emptied in
	// data); fastRules then holds its items, checked as they were read:
	// fastN of them, fastErr the first that failed.
	fast      bool
	fastRules imaPolicy
	fastN     int
	fastErr   error
	joined    int // items of them a second reading gave (allowSplit)
	// noFiles leaves the Keylime runtime policies unread (policy init's
	// check of what it writes, before the files are in place).
	noFiles bool
	// concurrent reads the Keylime runtime policies on another goroutine
	// (LoadPolicyConcurrent).
	concurrent bool
	pending    *keylimeLoad // to start once the policy is checked
	parsed     bool
	root       *yaml.Node // nil for an empty document
	treeErr    error      // of parsing the node tree
}

// split reads the document from r with splitAllow: when its ima.allow
// block is in the layout policy init writes, the items go straight to the
// loader's allowlist and patterns, checked as they are read, and l.data
// is the rest of the document (the block emptied), so that the YAML
// decoder, which builds a node per scalar, never sees the (possibly
// hundreds of thousands of) items, and the block is never in memory
// whole. Otherwise it returns false, and the caller sets l.data to the
// whole document. size is about the document's size.
func (l *policyLoader) split(r io.Reader, size int) (fast bool, err error) {
	return l.splitFrom(r, size, nil, -1)
}

// splitFrom is split of the size bytes of src (r reads them from the
// start), with a second reading of the block from byte at on another
// goroutine (allowSplit) when at >= 0.
func (l *policyLoader) splitFrom(r io.Reader, size int, src io.ReaderAt, at int64) (fast bool, err error) {
	l.fastRules.allow = runtimepolicy.NewAllowlist()
	l.fastRules.allow.Grow(size / 140) // about 150 bytes an item; compacted below
	var dst [64]byte
	var ds []runtimepolicy.Digest
	var rest bytes.Buffer
	var join func(off int64, ind int) (int, int64, io.Reader, bool, error)
	// About 0.45 bytes of records a byte of the block (an item of about
	// 150 bytes, a record of 65): room for them at once, each part its own.
	if at < 0 {
		l.fastRules.allow.Reserve(size * 45 / 100)
	} else {
		l.fastRules.allow.Reserve(int(at) * 45 / 100)
		sp := startAllowSplit(l, src, int64(size), at, l.fastRules.allow)
		defer sp.abandon()
		join = func(off int64, ind int) (int, int64, io.Reader, bool, error) {
			items, resume, keep, err := sp.join(l, off, ind)
			if items == 0 {
				return 0, 0, nil, keep, err
			}
			return items, resume, io.NewSectionReader(src, resume, int64(size)-resume), keep, err
		}
	}
	fast, err = splitAllow(bufio.NewReaderSize(r, 64<<10), &rest, func(i int, path []byte, digests [][]byte, line int) {
		l.fastN++
		if l.fastErr == nil {
			l.fastErr = l.allowItem(&l.fastRules, i, path, digests, line, dst[:], &ds)
		}
	}, join)
	if !fast || err != nil {
		l.fastRules, l.fastN, l.fastErr = imaPolicy{}, 0, nil
		return false, err
	}
	l.fastRules.allow.Compact()
	l.fast, l.data = true, rest.Bytes()
	return true, nil
}

// parse decodes l.data once, into the structs (unknown fields refused);
// only a policy with an error is parsed again, into nodes, to name the
// line of the field at fault.
func (l *policyLoader) parse() (*Policy, error) {
	data := l.data
	var raw policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if err := l.shapeErr(); err != nil {
			return nil, err
		}
		return nil, l.yamlErr(err)
	}
	p, err := l.build(&raw)
	if err != nil {
		if err := l.shapeErr(); err != nil {
			return nil, err
		}
		return nil, err
	}
	return p, nil
}

// tree returns the document's top-level node, or nil when it has none or
// does not parse.
func (l *policyLoader) tree() *yaml.Node {
	if !l.parsed {
		l.parsed = true
		var doc yaml.Node
		l.treeErr = yaml.Unmarshal(l.data, &doc)
		if l.treeErr == nil && doc.Kind != 0 && len(doc.Content) > 0 {
			l.root = doc.Content[0]
		}
	}
	return l.root
}

// shapeErr names a document that does not parse, is empty or is not a
// mapping, or returns nil.
func (l *policyLoader) shapeErr() error {
	root := l.tree()
	switch {
	case l.treeErr != nil:
		return l.yamlErr(l.treeErr)
	case root == nil:
		return &PolicyError{File: l.file, Err: fmt.Errorf("%w: empty policy (version: %d is required)", ErrPolicy, PolicyVersion)}
	case root.Kind != yaml.MappingNode:
		return l.errf(nil, "want a mapping at the top level")
	}
	return nil
}

// yamlErr turns a yaml.v3 error ("yaml: line 3: ...") into a PolicyError.
func (l *policyLoader) yamlErr(err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if line == 0 {
		// "unmarshal errors:\n  line 4: field x not found in type ..."
		if i := strings.Index(msg, "line "); i >= 0 {
			rest := msg[i+5:]
			if j := strings.Index(rest, ":"); j > 0 {
				if n, err := strconv.Atoi(rest[:j]); err == nil {
					line, msg = n, strings.TrimSpace(rest[j+1:])
				}
			}
		}
	}
	msg = explainUnknownKey(msg)
	msg = strings.Replace(msg, "in type policy.", "in ", 1)
	return &PolicyError{File: l.file, Line: line, Err: fmt.Errorf("%w: %s", ErrPolicy, msg)}
}

// errf reports a problem with the field at path (e.g. "ima", "allow", 3, "path").
func (l *policyLoader) errf(path []any, format string, a ...any) error {
	return &PolicyError{File: l.file, Line: l.line(path), Field: fieldPath(path), Err: fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, a...)...)}
}

func fieldPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// line finds the line of the node at path, or of its nearest present parent.
func (l *policyLoader) line(path []any) int {
	n := l.tree()
	if n == nil {
		return 0
	}
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		keyLine := 0
		switch v := p.(type) {
		case int:
			if n.Kind == yaml.SequenceNode && v >= 0 && v < len(n.Content) {
				next = n.Content[v]
			}
		default:
			key := fmt.Sprint(v)
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next = n.Content[i+1]
						keyLine = n.Content[i].Line
						break
					}
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		line = n.Line
		if keyLine > 0 {
			line = keyLine // "key: value" or "key:" opening a block
		}
	}
	return line
}

func (l *policyLoader) build(raw *policyFile) (*Policy, error) {
	if raw.Version != PolicyVersion {
		return nil, l.errf([]any{"version"}, "want %d, found %d", PolicyVersion, raw.Version)
	}
	p := &Policy{source: l.file}
	var err error
	for i, k := range raw.Signers {
		tk, err := l.key([]any{"signers", i}, k)
		if err != nil {
			return nil, err
		}
		p.signers = append(p.signers, tk)
	}
	for i, b := range raw.Builders {
		at := []any{"builders", i}
		if b.Name == "" {
			return nil, l.errf(append(at, "name"), "required")
		}
		if len(b.AttestationKeys) == 0 {
			return nil, l.errf(append(at, "attestationKeys"), "builder %q names no attestation key", b.Name)
		}
		for j, k := range b.AttestationKeys {
			if k.Name == "" {
				k.Name = b.Name
			}
			tk, err := l.key(append(at, "attestationKeys", j), k)
			if err != nil {
				return nil, err
			}
			tk.Name = b.Name
			p.aks = append(p.aks, tk)
		}
	}
	if p.akCAs, err = l.akCAs(raw.AKCAs); err != nil {
		return nil, err
	}
	for i, id := range raw.BuilderIDs {
		if id == "" {
			return nil, l.errf([]any{"builderIds", i}, "empty builder id")
		}
		p.builderIDs = append(p.builderIDs, id)
	}
	p.modes = []string{predicates.ModeDevice}
	if raw.TPMModes != nil {
		if len(raw.TPMModes) == 0 {
			return nil, l.errf([]any{"tpmModes"}, "empty: name at least one of device, swtpm, sim")
		}
		p.modes = nil
		for i, m := range raw.TPMModes {
			switch m {
			case predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim:
				p.modes = append(p.modes, m)
			default:
				return nil, l.errf([]any{"tpmModes", i}, "%q is not one of device, swtpm, sim", m)
			}
		}
	}
	if p.pcrs, err = l.pcrs(raw.PCRs); err != nil {
		return nil, err
	}
	if raw.MaxAge != "" {
		d, err := parseAge(raw.MaxAge)
		if err != nil {
			return nil, l.errf([]any{"maxAge"}, "%w", err)
		}
		p.maxAge = d
	}
	if p.ima, err = l.imaRules(&raw.IMA); err != nil {
		return nil, err
	}
	if err := raw.Boot.Validate(); err != nil {
		var fe *bootlog.PolicyFieldError
		if errors.As(err, &fe) {
			return nil, l.errf(append([]any{"boot"}, fe.Path...), "%w", fe.Err)
		}
		return nil, l.errf([]any{"boot"}, "%w", err)
	}
	p.boot = raw.Boot
	if p.srcRule, err = l.sourceRule(raw.Source); err != nil {
		return nil, err
	}
	return p, nil
}

// hasKey reports whether the document has the mapping key at path (such
// as ima.allow written with no value, which decodes like an absent key).
func (l *policyLoader) hasKey(path ...string) bool {
	if !bytes.Contains(l.data, []byte(path[len(path)-1])) {
		return false // the common case: no node tree needed
	}
	n := l.tree()
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n != nil
}

// parseAge parses a Go duration, or a number of days such as "30d".
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return 0, fmt.Errorf("%q: want a positive number of days (30d) or a duration (72h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration (72h) or a number of days (30d)", s)
	}
	return d, nil
}

func (l *policyLoader) key(item []any, k keyYAML) (TrustedKey, error) {
	var pemBytes []byte
	var at []any
	switch {
	case k.PublicKey != "" && k.PublicKeyFile != "":
		return TrustedKey{}, l.errf(item, "give publicKey or publicKeyFile, not both")
	case k.PublicKey != "":
		pemBytes = []byte(k.PublicKey)
		at = append(item, "publicKey")
	case k.PublicKeyFile != "":
		path := k.PublicKeyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
		at = append(item, "publicKeyFile")
		var err error
		if pemBytes, err = readCapped(path, 1<<20); err != nil {
			return TrustedKey{}, l.errf(at, "reading %s: %w", path, err)
		}
	default:
		return TrustedKey{}, l.errf(item, "publicKey or publicKeyFile required")
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return TrustedKey{}, l.errf(at, "not a PEM public key: %w", err)
	}
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		return TrustedKey{}, l.errf(at, "%w", err)
	}
	if k.Fingerprint != "" {
		if d, err := digest.Parse(k.Fingerprint); err != nil || d.Algorithm() != digest.SHA256 {
			return TrustedKey{}, l.errf(append(item, "fingerprint"), "%q is not a key fingerprint (want sha256: and 64 lowercase hex digits, as attest-build prints it)", k.Fingerprint)
		}
		if k.Fingerprint != fp {
			return TrustedKey{}, l.errf(append(item, "fingerprint"), "the key's fingerprint is %s, the policy says %s", fp, k.Fingerprint)
		}
	}
	return TrustedKey{Name: k.Name, PublicKey: pub, Fingerprint: fp}, nil
}

func (l *policyLoader) pcrs(raw map[string]map[int]string) ([]GoldenPCR, error) {
	var out []GoldenPCR
	for bank, vals := range raw {
		size, ok := bankSizes[bank]
		if !ok {
			return nil, l.errf([]any{"pcrs", bank}, "unknown bank %q (want sha1, sha256, sha384 or sha512)", bank)
		}
		if len(vals) == 0 {
			return nil, l.errf([]any{"pcrs", bank}, "no PCR values for bank %s (name golden values, or remove the bank)", bank)
		}
		for idx, hx := range vals {
			at := []any{"pcrs", bank, strconv.Itoa(idx)}
			if idx < 0 || idx > 23 {
				return nil, l.errf(at, "PCR index %d outside 0-23", idx)
			}
			v, err := hex.DecodeString(strings.TrimPrefix(hx, "0x"))
			if err != nil || len(v) != size {
				return nil, l.errf(at, "want %d bytes of hex for %s, found %q", size, bank, hx)
			}
			out = append(out, GoldenPCR{Bank: bank, Index: idx, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bank != out[j].Bank {
			return out[i].Bank < out[j].Bank
		}
		return out[i].Index < out[j].Index
	})
	return out, nil
}

var bankSizes = map[string]int{"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

func (l *policyLoader) imaRules(raw *imaYAML) (imaPolicy, error) {
	p := imaPolicy{
		required:        true,
		scope:           ScopeBoot,
		maxEntries:      DefaultMaxIMAEntries,
		maxLogBytes:     DefaultMaxIMALogBytes,
		allowViolations: raw.AllowViolations,
	}
	if raw.Required != nil {
		p.required = *raw.Required
	}
	if raw.Scope != "" {
		s, err := ParseIMAScope(raw.Scope)
		if err != nil {
			return p, l.errf([]any{"ima", "scope"}, "%q is not window or boot", raw.Scope)
		}
		p.scope = s
	}
	if raw.MaxEntries < 0 {
		return p, l.errf([]any{"ima", "maxEntries"}, "negative")
	} else if raw.MaxEntries > 0 {
		p.maxEntries = raw.MaxEntries
	}
	if raw.MaxLogBytes < 0 {
		return p, l.errf([]any{"ima", "maxLogBytes"}, "negative")
	} else if raw.MaxLogBytes > 0 {
		p.maxLogBytes = raw.MaxLogBytes
	}
	p.banks = DefaultIMABanks()
	if raw.Banks != nil {
		if len(raw.Banks) == 0 {
			return p, l.errf([]any{"ima", "banks"}, "empty: name at least one of sha256, sha384, sha512, sha1")
		}
		p.banks = nil
		for i, b := range raw.Banks {
			if _, ok := bankSizes[b]; !ok {
				return p, l.errf([]any{"ima", "banks", i}, "unknown bank %q (want sha1, sha256, sha384 or sha512)", b)
			}
			p.banks = append(p.banks, b)
		}
	}
	for i, name := range raw.Templates {
		if name == "" {
			return p, l.errf([]any{"ima", "templates", i}, "empty template name")
		}
		if templateDecoding(name) == "" {
			return p, l.errf([]any{"ima", "templates", i}, "template %q decodes into a path and digest, which the rules check: list only templates this verifier cannot decode", name)
		}
		p.templates = append(p.templates, name)
	}
	p.allowlist = raw.Allow != nil || l.fastN > 0 || l.hasKey("ima", "allow")
	p.allow, p.keylimeAllow = runtimepolicy.NewAllowlist(), runtimepolicy.NewAllowlist()
	if l.fast {
		if l.fastErr != nil {
			return p, l.fastErr
		}
		p.allow, p.patterns = l.fastRules.allow, l.fastRules.patterns
	} else {
		var dst [64]byte
		var ds []runtimepolicy.Digest
		var digests [][]byte
		for i, a := range raw.Allow {
			digests = digests[:0]
			for _, d := range a.Digests {
				digests = append(digests, []byte(d))
			}
			if err := l.allowItem(&p, i, []byte(a.Path), digests, 0, dst[:], &ds); err != nil {
				return p, err
			}
		}
	}
	for i, g := range raw.Exclude {
		glob, err := pathglob.Compile(g)
		if err != nil {
			return p, l.errf([]any{"ima", "exclude", i}, "%w", err)
		}
		p.excludes = append(p.excludes, glob)
	}
	for i, g := range raw.Deny {
		glob, err := pathglob.Compile(g)
		if err != nil {
			return p, l.errf([]any{"ima", "deny", i}, "%w", err)
		}
		p.deny = append(p.deny, patternRule{glob: glob})
	}
	var files []*os.File
	for i, f := range raw.KeylimeRuntimePolicies {
		path := f
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
		p.keylime = append(p.keylime, f)
		if l.noFiles {
			continue
		}
		file, err := os.Open(path)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return p, l.errf([]any{"ima", "keylimeRuntimePolicy", i}, "%s: reading Keylime runtime policy: %w", path, err)
		}
		files = append(files, file)
	}
	if len(files) == 0 {
		return p, nil
	}
	p.allowlist = true // an allowlist, even with no digests: it allows nothing then
	if !l.concurrent {
		excludes, err := l.readKeylime(p.keylimeAllow, files)
		p.keylimeExcludes = excludes
		return p, err
	}
	// Read once the whole policy is checked (loadPolicy): then the
	// goroutine alone uses l, to name an error's line.
	p.pending = &keylimeLoad{done: make(chan struct{}), files: files, allow: p.keylimeAllow}
	l.pending = p.pending
	return p, nil
}

// start reads the Keylime runtime policies on a goroutine of their own.
func (k *keylimeLoad) start(l *policyLoader) {
	go func() {
		defer close(k.done)
		k.excludes, k.err = l.readKeylime(k.allow, k.files)
		k.files, k.allow = nil, nil
	}()
}

// abandon closes the files of an import that will not run.
func (k *keylimeLoad) abandon() {
	for _, f := range k.files {
		f.Close()
	}
}

// readKeylime streams the opened Keylime runtime policies into allow, in
// order, closing each, and returns their excludes; its error names the
// first that failed.
func (l *policyLoader) readKeylime(allow *runtimepolicy.Allowlist, files []*os.File) (excludes []*regexp.Regexp, err error) {
	for i, f := range files {
		if err == nil {
			var re *regexp.Regexp
			if re, err = readKeylime(allow, f); err != nil {
				err = l.errf([]any{"ima", "keylimeRuntimePolicy", i}, "%s: %w", f.Name(), err)
			} else if re != nil {
				excludes = append(excludes, re)
			}
		}
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	return excludes, nil
}

// allowPath reads an ima.allow path: an exact path (no pattern character,
// or only escaped ones, which are unescaped: /usr/bin/\[ is /usr/bin/[)
// or else a pattern (exact is nil), checked (internal/pathglob).
func allowPath(path []byte) (exact []byte, glob pathglob.Pattern, err error) {
	if !bytes.ContainsAny(path, pathglob.MetaChars) {
		return path, glob, nil // the common case: no pattern to compile
	}
	if glob, err = pathglob.Compile(string(path)); err != nil {
		return nil, glob, err
	}
	if lit, ok := glob.Literal(); ok {
		return []byte(lit), glob, nil
	}
	return nil, glob, nil
}

// allowItem checks ima.allow item i (at line, 0 when not known: the node
// tree names it) and adds it to p: to the allowlist, or as a pattern when
// its path has wildcards. dst and ds are scratch storage for the digests.
func (l *policyLoader) allowItem(p *imaPolicy, i int, path []byte, digests [][]byte, line int, dst []byte, ds *[]runtimepolicy.Digest) error {
	errf := func(sub []any, format string, args ...any) error {
		at := append([]any{"ima", "allow", i}, sub...)
		if line == 0 {
			return l.errf(at, format, args...)
		}
		line := line // of "- path:"; the digests are on the next
		if len(sub) > 0 && sub[0] == "digests" {
			line++
		}
		return &PolicyError{File: l.file, Line: line, Field: fieldPath(at), Err: fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, args...)...)}
	}
	if len(path) == 0 {
		return errf([]any{"path"}, "required")
	}
	if len(digests) == 0 {
		return errf([]any{"digests"}, "%s lists no digest (to skip checking a path, put it under ima.exclude)", path)
	}
	*ds = (*ds)[:0]
	if need := 64 * len(digests); len(dst) < need {
		dst = make([]byte, need)
	}
	for j, d := range digests {
		c, err := runtimepolicy.ParseDigestInto(d, dst[64*j:64*j+64])
		if err != nil {
			return errf([]any{"digests", j}, "%w", err)
		}
		*ds = append(*ds, c)
	}
	exact, glob, err := allowPath(path)
	if err != nil {
		return errf([]any{"path"}, "%w", err)
	}
	if exact != nil {
		if err := p.allow.AddBytes(exact, *ds...); err != nil {
			return errf(nil, "%w", err)
		}
		return nil
	}
	set := map[string]bool{}
	for _, d := range *ds {
		set[d.String()] = true
	}
	p.patterns = append(p.patterns, patternRule{glob: glob, digests: set})
	return nil
}

// ErrKeylime reports a Keylime runtime policy that cannot be imported.
var ErrKeylime = runtimepolicy.ErrPolicy

// readKeylime streams a Keylime runtime policy file into allow and returns
// its excludes, combined as Keylime matches them (anchored at the start of
// the path only), or nil.
func readKeylime(allow *runtimepolicy.Allowlist, f *os.File) (*regexp.Regexp, error) {
	var kp *runtimepolicy.Policy
	var err error
	if fi, serr := f.Stat(); serr == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= maxPolicyBytes {
		// About 120 bytes a path in Keylime's layout (more with shorter
		// paths): make room at once; Read compacts the table at the end.
		allow.Grow(int(fi.Size()) / 110)
		// The file as it is now, read in two parts at once when large.
		kp, err = runtimepolicy.ReadAt(f, fi.Size(), allow)
	} else {
		capped := &io.LimitedReader{R: f, N: maxPolicyBytes + 1}
		kp, err = runtimepolicy.Read(capped, allow)
		if capped.N <= 0 {
			return nil, fmt.Errorf("reading Keylime runtime policy: larger than %d bytes", maxPolicyBytes)
		}
	}
	if err != nil {
		return nil, err
	}
	return kp.Exclude, nil
}
