package verify

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	fastb64 "github.com/segmentio/asm/base64"
	"github.com/segmentio/asm/cpu"
	"github.com/segmentio/asm/cpu/arm64"
	"github.com/segmentio/asm/cpu/x86"
)

// FuzzFastBase64 holds the SIMD base64 decoder the verifier reads payloads
// and logs with (segmentio/asm) to encoding/base64's answers: the same
// bytes for text both accept, an error from both for text either refuses;
// and b64Stream, written in pieces, and b64Reader, read in pieces, to
// encoding/base64 on the whole text.
func FuzzFastBase64(f *testing.F) {
	if !cpu.X86.Has(x86.AVX2) && !cpu.ARM64.Has(arm64.ASIMD) {
		f.Log("no AVX2 or ASIMD: segmentio/asm falls back to encoding/base64, so the differential part compares it with itself")
	}
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte(i * 31)
	}
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(long),
		base64.URLEncoding.EncodeToString(long),
		base64.StdEncoding.EncodeToString(long[:100]) + "=",
		strings.Repeat("A", 64) + "*" + strings.Repeat("A", 63),
		strings.Repeat("QUJD", 20) + "QQ==" + strings.Repeat("QUJD", 20),
		strings.Repeat("QUJD", 20) + "QR==", // non-zero trailing bits
		strings.Repeat("QUJD", 12) + "\n" + strings.Repeat("QUJD", 12),
		strings.Repeat("QUJD", 12) + "\r\nQUJD\nQUJD", // skipped bytes, whole quanta
		strings.Repeat("QUJD", 30) + "\n\n\n\n" + strings.Repeat("QUJD", 30),
		strings.Repeat("QUJD", 30) + "-_" + strings.Repeat("QU+D", 30) + "==",
		strings.Repeat("QU+D", 30) + "-_" + strings.Repeat("QUJD", 30),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		// Only the standard alphabet: segmentio's URL decoder also accepts
		// '/', so b64Stream decodes the URL alphabet with encoding/base64.
		for _, encs := range []struct {
			name string
			fast *fastb64.Encoding
			std  *base64.Encoding
		}{
			{"std", fastb64.StdEncoding, base64.StdEncoding},
		} {
			want := make([]byte, encs.std.DecodedLen(len(text)))
			n, werr := encs.std.Decode(want, text)
			got := make([]byte, encs.fast.DecodedLen(len(text)))
			m, gerr := encs.fast.Decode(got, text)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s %q: encoding/base64 err %v, segmentio err %v", encs.name, text, werr, gerr)
			}
			if werr == nil && !bytes.Equal(got[:m], want[:n]) {
				t.Fatalf("%s %q: encoding/base64 %x, segmentio %x", encs.name, text, want[:n], got[:m])
			}
		}
		// b64Stream, written in three pieces: the standard alphabet, or the
		// URL one for text without '+' or '/'; nothing else.
		d := b64Stream{}
		var gerr error
		for _, piece := range [][]byte{text[:len(text)/3], text[len(text)/3 : len(text)/2], text[len(text)/2:]} {
			if gerr = d.write(piece); gerr != nil {
				break
			}
		}
		var got []byte
		if gerr == nil {
			got, gerr = d.close()
		}
		if bytes.ContainsAny(text, "\\\r\n") {
			// Refused by b64Stream (which does not scan for them before
			// decoding), and before b64Reader sees it (decodeTPMIMA).
			if gerr == nil {
				t.Fatalf("b64Stream %q: accepted a JSON escape or line break, decoded %x", text, got)
			}
			return
		}
		want, werr := base64.StdEncoding.DecodeString(string(text))
		if werr != nil && !bytes.ContainsAny(text, "+/") {
			want, werr = base64.URLEncoding.DecodeString(string(text))
		}
		if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("b64Stream %q: %x, %v; encoding/base64 %x, %v", text, got, gerr, want, werr)
		}
		want, werr = base64.StdEncoding.DecodeString(string(text))
		for size := 1; size <= 8; size++ {
			if err := readFullUntilEnd(&b64Reader{text: text}, size); (err == nil) != (werr == nil) {
				t.Fatalf("b64Reader %q, io.ReadFull of %d bytes at a time: %v; encoding/base64 %v", text, size, err, werr)
			}
		}
		for _, r := range []io.Reader{&b64Reader{text: text}, oneByte{&b64Reader{text: text}}} {
			got, gerr := io.ReadAll(r)
			if werr == nil && (gerr != nil || !bytes.Equal(got, want)) {
				t.Fatalf("b64Reader %q: %x, %v; encoding/base64 %x", text, got, gerr, want)
			}
			if werr != nil && gerr == nil {
				t.Fatalf("b64Reader %q: accepted what encoding/base64 refuses (%v)", text, werr)
			}
		}
	})
}

// oneByte reads one byte at a time (testing/iotest.OneByteReader, without
// its dependency on iotest in a fuzz body).
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
