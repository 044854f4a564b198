package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The envelope reader against encoding/json's and go-securesystemslib's
// reading of the same lines: what it accepts decodes to the same payload;
// what it refuses is named.
func TestEnvelopeReader(t *testing.T) {
	body := []byte(`{"a":"b"}` + strings.Repeat("\xfb\xff\xbf", 400))
	std, url := base64.StdEncoding.EncodeToString(body), base64.URLEncoding.EncodeToString(body)
	if std == url {
		t.Fatal("test payload has no alphabet-specific character")
	}
	sig := `"signatures":[{"keyid":"k","sig":"AAAA"}]`
	for _, tc := range []struct {
		name, in string
		want     error // nil: accepted with body as payload
	}{
		{"standard alphabet", `{"payloadType":"t","payload":"` + std + `",` + sig + "}\n", nil},
		{"URL alphabet", `{"payload":"` + url + `","payloadType":"t",` + sig + "}", nil},
		{"spaces around tokens", ` { "payloadType" : "t" , "payload" : "` + std + `" , ` + sig + ` } ` + "\r\n", nil},
		{"unknown member", `{"x":[1,{"y":"}"}],"payload":"` + std + `",` + sig + "}", ErrMalformed},
		{"Payload beside payload", `{"Payload":"AAAA","payload":"` + std + `",` + sig + "}", ErrMalformed},
		{"Sig in a signature", `{"payload":"` + std + `","signatures":[{"keyid":"k","Sig":"AAAA"}]}`, ErrMalformed},
		{"sig twice in a signature", `{"payload":"` + std + `","signatures":[{"keyid":"k","sig":"BBBB","sig":"AAAA"}]}`, ErrMalformed},
		{"mixed alphabets", `{"payload":"` + std[:len(std)/2] + url[len(url)/2:] + `",` + sig + "}", ErrMalformed},
		{"payload twice", `{"payload":"` + std + `","payload":"AAAA",` + sig + "}", ErrMalformed},
		{"mixed alphabets, URL first", `{"payload":"` + url[:len(url)/2] + std[len(std)/2:] + `",` + sig + "}", ErrMalformed},
		// The decoders skip line breaks: four of them keep the quanta whole.
		{"line break in payload", `{"payload":"` + std[:400] + "\n" + std[400:] + `",` + sig + "}", ErrMalformed},
		{"four line breaks in payload", `{"payload":"` + std[:400] + "\r\n\r\n" + std[400:] + `",` + sig + "}", ErrMalformed},
		{"line breaks in URL payload", `{"payload":"` + url[:400] + "\n\n\n\n" + url[400:] + `",` + sig + "}", ErrMalformed},
		{"JSON escape in payload", `{"payload":"` + strings.Replace(std, "/", `\/`, 1) + `",` + sig + "}", ErrMalformed},
		{"padding inside", `{"payload":"AA==AAAA",` + sig + "}", ErrMalformed},
		{"not a multiple of 4", `{"payload":"AAAAA",` + sig + "}", ErrMalformed},
		{"spans lines", "{\"payload\":\"AAAA\",\n" + sig + "}", ErrMalformed},
		{"no payload", `{` + sig + `}`, ErrMalformed},
		{"truncated", `{"payload":"AAAA`, ErrMalformed},
		{"more on the line", `{"payload":"AAAA",` + sig + `} {}`, ErrMalformed},
		{"huge member", `{"signatures":"` + strings.Repeat("a", maxEnvelopeMember+1) + `"}`, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := newEnvelopeReader(strings.NewReader(tc.in), DefaultMaxAttestationBytes, int64(len(tc.in)))
			env, err := er.next()
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(env.payload) != string(body) || len(env.signatures) != 1 || env.signatures[0].KeyID != "k" {
				t.Fatalf("envelope %q %+v", env.payload, env.signatures)
			}
		})
	}
	er := newEnvelopeReader(strings.NewReader(`{"payload":"`+std+`"}`), 100, 0)
	if _, err := er.next(); !errors.Is(err, errAttestationTooLarge) {
		t.Fatalf("over the size limit: err = %v", err)
	}
}

// decodeTPMIMA hands ima.log.data over as base64 text and decodes the rest
// with unknown fields refused.
func TestDecodeTPMIMALogSpan(t *testing.T) {
	_, b64, err := decodeTPMIMA([]byte(`{"ima":{"log":{"data":"QUJD"}}}`))
	if err != nil || string(b64) != "QUJD" {
		t.Fatalf("%q %v", b64, err)
	}
	for _, in := range []string{
		`{"ima":{"log":{"data":"QU\nJD"}}}`,
		`{"ima":{"log":{"data":"QUJD"}},"extra":1}`,
		`{"ima":{"log":{"data":"QUJD","data":"QUJD"}}}`,
	} {
		if _, _, err := decodeTPMIMA([]byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

// b64Reader is an io.Reader for reads of any size (zstd reads frame headers
// a few bytes at a time), and refuses text after padding; the refusal is not
// lost by a reader that stops once it has what it asked for (io.ReadFull).
func TestB64Reader(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 300, 4096 + 1} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		text := base64.StdEncoding.EncodeToString(want)
		if err := iotest.TestReader(&b64Reader{text: []byte(text)}, want); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(&b64Reader{text: []byte(text)}))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes, one byte at a time: %x, %v; want %x", n, got, err, want)
		}
	}
	for _, bad := range []string{"AA==AAAA", "A", "AB*D", "AAAAAA==AAAA", "QUJD" + "QQ==" + "!! not base64 ~~"} {
		if _, err := io.ReadAll(&b64Reader{text: []byte(bad)}); err == nil {
			t.Errorf("%q: no error", bad)
		}
		if _, err := io.ReadAll(iotest.OneByteReader(&b64Reader{text: []byte(bad)})); err == nil {
			t.Errorf("%q, one byte at a time: no error", bad)
		}
		for size := 1; size <= 8; size++ {
			if err := readFullUntilEnd(&b64Reader{text: []byte(bad)}, size); err == nil {
				t.Errorf("%q, io.ReadFull of %d bytes at a time: no error", bad, size)
			}
		}
	}
}

// readFullUntilEnd reads r with io.ReadFull of size bytes at a time, as
// the zstd decoder reads frame fields, and returns the first error other
// than the end of r's data.
func readFullUntilEnd(r *b64Reader, size int) error {
	buf := make([]byte, size)
	for {
		_, err := io.ReadFull(r, buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			if !r.consumed() {
				return errors.New("stopped before the end of the text")
			}
			return nil
		case err != nil:
			return err
		}
	}
}
