package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ErrKeylime reports a Keylime runtime policy that cannot be imported.
var ErrKeylime = errors.New("invalid Keylime runtime policy")

// KeylimeRuntimePolicy is the part of a Keylime runtime policy (the JSON
// document Keylime's verifier enforces on IMA logs) that attest-build
// imports: the accepted digests per path and the exclude regexes. Other
// members (keyrings, ima-buf, verification-keys) are read and ignored.
type KeylimeRuntimePolicy struct {
	// Digests maps a path to its accepted file digests ("alg:hex").
	Digests map[string][]string
	// Excludes are the policy's regexes, combined and anchored at the start
	// of the path as Keylime matches them.
	Excludes []string

	exclude *regexp.Regexp
}

// keylimeJSON is the runtime policy document (Keylime's runtime_policy
// schema, meta.version 1).
type keylimeJSON struct {
	Meta *struct {
		Version int `json:"version"`
	} `json:"meta"`
	Digests  map[string][]string `json:"digests"`
	Excludes []string            `json:"excludes"`
}

// ParseKeylimeRuntimePolicy parses a Keylime runtime policy (JSON). Its
// digests are hex of any of the sizes of sha1, sha256, sha384, sha512; its
// excludes are regular expressions, which must compile as Go (RE2) regexes:
// Python-only constructs such as look-arounds are refused, never dropped.
func ParseKeylimeRuntimePolicy(data []byte) (*KeylimeRuntimePolicy, error) {
	var raw keylimeJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeylime, err)
	}
	if raw.Meta == nil {
		return nil, fmt.Errorf("%w: no meta object (is this a Keylime runtime policy?)", ErrKeylime)
	}
	if raw.Meta.Version != 1 {
		return nil, fmt.Errorf("%w: meta.version %d, want 1", ErrKeylime, raw.Meta.Version)
	}
	kp := &KeylimeRuntimePolicy{Digests: make(map[string][]string, len(raw.Digests))}
	paths := make([]string, 0, len(raw.Digests))
	for p := range raw.Digests {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if p == "" {
			return nil, fmt.Errorf("%w: digests: empty path", ErrKeylime)
		}
		for i, d := range raw.Digests[p] {
			c, err := parseDigest(d)
			if err != nil {
				return nil, fmt.Errorf("%w: digests[%q][%d]: %w", ErrKeylime, p, i, err)
			}
			kp.Digests[p] = append(kp.Digests[p], c)
		}
	}
	for i, e := range raw.Excludes {
		if _, err := regexp.Compile(e); err != nil {
			return nil, fmt.Errorf("%w: excludes[%d] %q does not compile as an RE2 regex: %w", ErrKeylime, i, e, err)
		}
		kp.Excludes = append(kp.Excludes, e)
	}
	if len(kp.Excludes) > 0 {
		// Keylime joins the excludes with "|" and uses re.match: anchored at
		// the start of the path, not at its end.
		re, err := regexp.Compile(`^(?:` + strings.Join(kp.Excludes, `|`) + `)`)
		if err != nil {
			return nil, fmt.Errorf("%w: excludes combined: %w", ErrKeylime, err)
		}
		kp.exclude = re
	}
	return kp, nil
}

// mergeInto adds the runtime policy's digests to the policy's exact-path
// allowlist and its excludes to the policy's excludes.
func (kp *KeylimeRuntimePolicy) mergeInto(p *imaPolicy) {
	for path, ds := range kp.Digests {
		set := make(map[string]bool, len(ds))
		for _, d := range ds {
			set[d] = true
		}
		p.addExact(path, set)
	}
	if kp.exclude != nil {
		p.excludes = append(p.excludes, kp.exclude)
	}
}
