package inspect_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/inspect"
)

// envelopeLine wraps a statement in a DSSE envelope line (unsigned: inspect
// checks no signature, and these tests show it does not).
func envelopeLine(t *testing.T, statement any) []byte {
	t.Helper()
	payload, err := json.Marshal(statement)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(map[string]any{
		"payloadType": predicates.PayloadType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": "sha256:test", "sig": "bm90IGEgc2lnbmF0dXJl"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

func inspectStatement(predicateType string, predicate any) map[string]any {
	return map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "hello.tar.gz", "digest": map[string]string{"sha256": strings.Repeat("ab", 32)}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	}
}

// realQuotePredicate builds a TPM/IMA predicate around the real swtpm quote
// captured under a real Debian kernel (../shared/realdata/vm-debian12-swtpm).
func realQuotePredicate(t *testing.T) (*predicates.TPMIMA, string) {
	t.Helper()
	msgPath := realtest.RealData(t, "vm-debian12-swtpm/quote.msg")
	msg, err := os.ReadFile(msgPath)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(realtest.RealData(t, "vm-debian12-swtpm/quote.sig"))
	if err != nil {
		t.Fatal(err)
	}
	pcrs := []predicates.PCR{{Bank: "sha256", Index: 10, Value: strings.Repeat("11", 32)}}
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &predicates.TPMIMA{
		TPM:            predicates.TPM{Mode: predicates.ModeSwtpm, Manufacturer: "IBM", FirmwareVersion: "1.2"},
		AttestationKey: predicates.AttestationKey{PublicKeyPEM: "-----BEGIN PUBLIC KEY-----\n", TPMTPublic: []byte{1}, Fingerprint: "sha256:" + strings.Repeat("cd", 32)},
		Nonce:          predicates.Nonce{Start: "00ff", Construction: predicates.NonceSingleSubject},
		Quotes: predicates.Quotes{
			Start: predicates.Quote{Attest: msg, Signature: sig, PCRs: pcrs},
			End:   predicates.Quote{Attest: msg, Signature: sig, PCRs: pcrs},
		},
		IMA: predicates.IMA{Present: true, PCR: 10, Bank: "sha256", Template: "ima-ng",
			Log: &predicates.IMALog{Encoding: predicates.IMALogEncoding, Entries: 49, SHA256: strings.Repeat("ef", 32), Data: []byte("gz")},
			Window: &predicates.Window{Start: 47, End: 49, Entries: []predicates.WindowEntry{
				{Index: 47, Template: "ima-ng", DigestAlg: "sha256", Digest: strings.Repeat("01", 32), Path: "/usr/bin/make"},
				{Index: 48, Template: "ima-ng", Violation: true, Path: "/tmp/open-for-write"},
			}}},
		Build: predicates.Build{Argv: []string{"make", "dist"}, WorkingDirectory: "/src", StartedOn: start, FinishedOn: start.Add(1500 * time.Millisecond)},
	}, msgPath
}

// tpm2Print decodes a TPMS_ATTEST with tpm2-tools, an independent decoder.
func tpm2Print(t *testing.T, path string) map[string]string {
	t.Helper()
	bin := realtest.LookPath(t, "tpm2_print", "tpm2-tools")
	out, err := exec.Command(bin, "-t", "TPMS_ATTEST", path).Output()
	if err != nil {
		t.Fatalf("tpm2_print: %v", err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if ok {
			fields[k] = v
		}
	}
	return fields
}

func TestInspectDecodesRealQuoteLikeTPM2Tools(t *testing.T) {
	p, msgPath := realQuotePredicate(t)
	want := tpm2Print(t, msgPath)
	file := append(envelopeLine(t, inspectStatement(predicates.TPMIMAType, p)),
		envelopeLine(t, inspectStatement(predicates.SLSAProvenanceType, map[string]any{
			"buildDefinition": map[string]any{
				"buildType":            "https://example.test/buildtype",
				"externalParameters":   map[string]any{"argv": []string{"make"}},
				"resolvedDependencies": []map[string]any{{"uri": "git+https://github.com/o/r@refs/heads/main", "digest": map[string]string{"gitCommit": "abc123"}}},
			},
			"runDetails": map[string]any{
				"builder":  map[string]any{"id": "https://example.test/builder/swtpm"},
				"metadata": map[string]any{"invocationId": "https://github.com/o/r/actions/runs/1/attempts/1"},
			},
		}))...)
	s, err := inspect.Inspect(bytes.NewReader(file), inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Verified || s.Notice != inspect.InspectNotice {
		t.Fatalf("summary claims verification: verified=%v notice=%q", s.Verified, s.Notice)
	}
	if len(s.Envelopes) != 2 {
		t.Fatalf("%d envelopes, want 2", len(s.Envelopes))
	}
	ti := s.Envelopes[0].TPMIMA
	if ti == nil {
		t.Fatal("first envelope: TPM/IMA predicate not decoded")
	}
	q := ti.EndQuote
	for field, got := range map[string]string{
		"extraData":    q.ExtraData,
		"clock":        strconv.FormatUint(q.Clock, 10),
		"resetCount":   strconv.FormatUint(uint64(q.ResetCount), 10),
		"restartCount": strconv.FormatUint(uint64(q.RestartCount), 10),
		"pcrDigest":    q.PCRDigest,
	} {
		if got != want[field] {
			t.Errorf("end quote %s = %s, tpm2_print says %s", field, got, want[field])
		}
	}
	if q.Type != "quote" || !q.Safe {
		t.Errorf("end quote type %q safe %v, want quote, safe", q.Type, q.Safe)
	}
	// tpm2_print prints firmwareVersion's eight bytes in host (little-endian)
	// order; TPMS_ATTEST holds it big-endian, as the raw bytes show.
	if fw := "0x" + reverseHex(want["firmwareVersion"]); q.FirmwareVersion != fw {
		t.Errorf("firmwareVersion %s, tpm2_print says %s (byte-reversed: %s)", q.FirmwareVersion, want["firmwareVersion"], fw)
	}
	if ti.Mode != predicates.ModeSwtpm || ti.AKFingerprint != p.AttestationKey.Fingerprint {
		t.Errorf("mode %q AK %q, want %q %q", ti.Mode, ti.AKFingerprint, predicates.ModeSwtpm, p.AttestationKey.Fingerprint)
	}
	if ti.IMA.WindowStart != 47 || ti.IMA.WindowEnd != 49 || len(ti.IMA.Window) != 2 || ti.IMA.Window[0].Path != "/usr/bin/make" {
		t.Errorf("IMA window %+v, want [47, 49) starting with /usr/bin/make", ti.IMA)
	}
	sl := s.Envelopes[1].SLSA
	if sl == nil || sl.BuilderID != "https://example.test/builder/swtpm" || sl.InvocationID != "https://github.com/o/r/actions/runs/1/attempts/1" ||
		len(sl.ResolvedDependencies) != 1 || sl.ResolvedDependencies[0].Digest["gitCommit"] != "abc123" {
		t.Errorf("SLSA summary %+v", sl)
	}

	var text bytes.Buffer
	if err := s.WriteText(&text, inspect.TextOptions{MaxWindowEntries: 1}); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if !strings.HasPrefix(out, "NOT VERIFIED: inspect verifies nothing") {
		t.Errorf("text report does not open with the notice:\n%s", out)
	}
	for _, wantText := range []string{
		"clock (ms)", want["clock"], want["resetCount"], "/usr/bin/make", "... 1 more", "sha256:10",
		"swtpm (a software TPM: proves nothing about hardware)", "builder.id:  https://example.test/builder/swtpm",
		"source:      git+https://github.com/o/r@refs/heads/main gitCommit:abc123", "exit status 0", "(1.5s)",
	} {
		if !strings.Contains(out, wantText) {
			t.Errorf("text report lacks %q:\n%s", wantText, out)
		}
	}
}

func reverseHex(h string) string {
	var b strings.Builder
	for i := len(h); i >= 2; i -= 2 {
		b.WriteString(h[i-2 : i])
	}
	return b.String()
}

func TestInspectRefuses(t *testing.T) {
	good := func(t *testing.T) []byte {
		return envelopeLine(t, inspectStatement("https://example.test/other", map[string]any{}))
	}
	for _, tc := range []struct {
		name  string
		file  func(t *testing.T) []byte
		opts  inspect.InspectOptions
		line  int
		field string
		limit bool
	}{
		{name: "empty", file: func(*testing.T) []byte { return nil }, line: 1},
		{name: "not JSON on line 2", file: func(t *testing.T) []byte { return append(good(t), "{oops\n"...) }, line: 2},
		{name: "payload not base64", file: func(*testing.T) []byte {
			return []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"***","signatures":[]}`)
		}, line: 1, field: "payload"},
		{name: "payload not a statement", file: func(*testing.T) []byte {
			return []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString([]byte("[1]")) + `","signatures":[]}`)
		}, line: 1, field: "payload"},
		{name: "quote attest not TPMS_ATTEST", file: func(t *testing.T) []byte {
			p, _ := realQuotePredicate(t)
			p.Quotes.End.Attest = []byte{0xff, 0x54}
			return envelopeLine(t, inspectStatement(predicates.TPMIMAType, p))
		}, line: 1, field: "payload.predicate.quotes.end.attest"},
		{name: "file over MaxBytes", file: good, opts: inspect.InspectOptions{MaxBytes: 50}, line: 1, limit: true},
		{name: "envelopes over MaxEnvelopes", file: func(t *testing.T) []byte { return append(good(t), good(t)...) },
			opts: inspect.InspectOptions{MaxEnvelopes: 1}, line: 2, limit: true},
		{name: "subjects over MaxSubjects", file: func(t *testing.T) []byte {
			st := inspectStatement("x", nil)
			st["subject"] = []map[string]any{{"name": "a"}, {"name": "b"}}
			return envelopeLine(t, st)
		}, opts: inspect.InspectOptions{MaxSubjects: 1}, line: 1, field: "payload.subject", limit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inspect.Inspect(bytes.NewReader(tc.file(t)), tc.opts)
			var ie *inspect.InspectError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InspectError", err)
			}
			if ie.Line != tc.line || ie.Field != tc.field {
				t.Errorf("error at line %d field %q, want line %d field %q (%v)", ie.Line, ie.Field, tc.line, tc.field, err)
			}
			if got := errors.Is(err, inspect.ErrInspectLimit); got != tc.limit {
				t.Errorf("errors.Is(ErrInspectLimit) = %v, want %v (%v)", got, tc.limit, err)
			}
		})
	}
}

// Envelopes of other payload types and unknown predicates are listed, not
// decoded; blank lines are skipped and line numbers still count them.
func TestInspectListsUnknown(t *testing.T) {
	file := append([]byte(`{"payloadType":"text/plain","payload":"aGk=","signatures":[{"keyid":"k1","sig":"c2ln"}]}`+"\n\n"),
		envelopeLine(t, inspectStatement("https://example.test/other", map[string]any{"x": 1}))...)
	s, err := inspect.Inspect(bytes.NewReader(file), inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Envelopes) != 2 || s.Envelopes[1].Line != 3 {
		t.Fatalf("envelopes %+v, want 2, the second on line 3", s.Envelopes)
	}
	if s.Envelopes[0].Other == "" || s.Envelopes[0].KeyIDs[0] != "k1" || s.Envelopes[0].StatementType != "" {
		t.Errorf("text/plain envelope: %+v", s.Envelopes[0])
	}
	if e := s.Envelopes[1]; e.Other == "" || e.TPMIMA != nil || e.SLSA != nil || e.PredicateType != "https://example.test/other" || len(e.Subjects) != 1 {
		t.Errorf("unknown predicate: %+v", e)
	}
}

// FuzzInspect: no input panics or escapes the limits.
func FuzzInspect(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`))
	f.Add([]byte("{}\n\n{}"))
	shared := os.Getenv("ATTEST_BUILD_SHARED")
	if shared == "" {
		shared = "../../shared"
	}
	if msg, err := os.ReadFile(shared + "/realdata/vm-debian12-swtpm/quote.msg"); err == nil {
		st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "predicateType": predicates.TPMIMAType,
			"predicate": map[string]any{"quotes": map[string]any{"start": map[string]any{"attest": msg}, "end": map[string]any{"attest": msg}}}})
		f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString(st) + `"}`))
	}
	// Limits: the whole input at most MaxBytes, at most MaxEnvelopes
	// envelopes, one per non-empty line, Verified never set; failures are
	// *InspectError values naming a line of the input.
	const maxBytes, maxEnvelopes = 1 << 16, 4
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := inspect.Inspect(bytes.NewReader(data), inspect.InspectOptions{MaxBytes: maxBytes, MaxEnvelopes: maxEnvelopes})
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			var ie *inspect.InspectError
			if !errors.As(err, &ie) || ie.Line < 1 || ie.Line > lines {
				t.Fatalf("err = %v, want an *InspectError naming a line in 1..%d", err, lines)
			}
			if len(data) > maxBytes && !errors.Is(err, inspect.ErrInspectLimit) {
				t.Fatalf("%d bytes: err = %v, want ErrInspectLimit", len(data), err)
			}
			return
		}
		if len(data) > maxBytes {
			t.Fatalf("%d bytes inspected, limit %d", len(data), maxBytes)
		}
		if len(s.Envelopes) == 0 || len(s.Envelopes) > maxEnvelopes || s.Verified {
			t.Fatalf("%d envelopes (limit %d), verified %t", len(s.Envelopes), maxEnvelopes, s.Verified)
		}
		for i, e := range s.Envelopes {
			if e.Line < 1 || e.Line > lines || (i > 0 && e.Line <= s.Envelopes[i-1].Line) {
				t.Fatalf("envelope %d on line %d of %d", i, e.Line, lines)
			}
		}
		if err := s.WriteText(&bytes.Buffer{}, inspect.TextOptions{}); err != nil {
			t.Fatalf("WriteText: %v", err)
		}
	})
}
