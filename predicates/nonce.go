package predicates

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Subject is an artifact name with its SHA-256 digest.
type Subject struct {
	Name   string
	SHA256 [sha256.Size]byte
}

// ErrSubjects reports a subject list that has no nonce encoding.
var ErrSubjects = errors.New("subjects cannot be encoded")

// SubjectsNonce returns the end quote's qualifyingData for the subjects and
// the name of its construction.
//
// With one subject it is that subject's SHA-256 digest (32 raw bytes), so
// `tpm2_checkquote -q $(sha256sum ARTIFACT | cut -d' ' -f1)` checks it. With
// several it is the SHA-256 of the lines "HEX  NAME\n" (sha256sum(1) output)
// sorted by name in byte order: `sha256sum A B | LC_ALL=C sort -k2 | sha256sum`.
// Names must be unique and contain no newline or backslash (sha256sum would
// escape them).
func SubjectsNonce(subjects []Subject) ([]byte, string, error) {
	switch len(subjects) {
	case 0:
		return nil, "", fmt.Errorf("%w: no subjects", ErrSubjects)
	case 1:
		d := subjects[0].SHA256
		return d[:], NonceSingleSubject, nil
	}
	sorted := append([]Subject(nil), subjects...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var buf bytes.Buffer
	for i, s := range sorted {
		if s.Name == "" || strings.ContainsAny(s.Name, "\n\\") {
			return nil, "", fmt.Errorf("%w: subject name %q is empty or holds a newline or backslash", ErrSubjects, s.Name)
		}
		if i > 0 && sorted[i-1].Name == s.Name {
			return nil, "", fmt.Errorf("%w: subject name %q appears twice", ErrSubjects, s.Name)
		}
		buf.WriteString(hex.EncodeToString(s.SHA256[:]))
		buf.WriteString("  ")
		buf.WriteString(s.Name)
		buf.WriteByte('\n')
	}
	sum := sha256.Sum256(buf.Bytes())
	return sum[:], NonceSubjectList, nil
}
