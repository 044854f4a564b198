package predicates

import (
	"encoding/hex"

	"github.com/attest-build/attest-build/evidence"
)

// PayloadType is the DSSE payloadType of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// SLSAProvenanceType is the predicateType of SLSA provenance v1.
const SLSAProvenanceType = "https://slsa.dev/provenance/v1"

// WindowEntryOf returns the log entry as the predicate's window shows it.
func WindowEntryOf(e *evidence.Entry) WindowEntry {
	we := WindowEntry{Index: e.Index, Template: e.TemplateName, DigestAlg: e.FileDigestAlg, Path: e.Path, Violation: e.Violation()}
	if len(e.FileDigest) > 0 {
		we.Digest = hex.EncodeToString(e.FileDigest)
	}
	return we
}

// LogTemplate is the template of a run of log entries as ima.template names
// it: the one template they all have, "mixed", or "none" for no entries.
type LogTemplate string

// Add counts one entry of template name.
func (t *LogTemplate) Add(name string) {
	switch {
	case *t == "":
		*t = LogTemplate(name)
	case string(*t) != name:
		*t = "mixed"
	}
}

func (t LogTemplate) String() string {
	if t == "" {
		return "none"
	}
	return string(t)
}
