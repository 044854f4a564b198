package ekcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	rootsDir = "../testdata/ek/roots-keylime"
	certsDir = "../testdata/ek/certs"
)

func readCert(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(certsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hardwareTrust(t *testing.T) *Trust {
	t.Helper()
	tr := NewTrust()
	n, err := tr.Load(ClassHardware, rootsDir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 51 {
		t.Fatalf("loaded %d anchors from %s, want 51", n, rootsDir)
	}
	return tr
}

// Real hardware EK certificates chain to the manufacturers' CAs Keylime
// ships, through every quirk the package doc lists.
func TestVerifyRealEKCertificates(t *testing.T) {
	tr := hardwareTrust(t)
	for _, tc := range []struct {
		file     string
		identity Identity
		anchorCN string
	}{
		{"st_sha256_with_rsa.der", Identity{Manufacturer: "id:53544D20", Model: "ST33HTPHAHB4", Version: "id:00490004"}, "STM TPM EK Intermediate CA 05"},
		{"st_ecdsa_sha256.der", Identity{Manufacturer: "id:53544D20", Model: "ST33HTPHAHB4", Version: "id:00490004"}, "STM TPM ECC Intermediate CA 01"},
		{"nuvoton_ecdsa_sha256.der", Identity{}, "Nuvoton TPM Root CA 2110"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Parse(readCert(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.Identity != tc.identity {
				t.Errorf("identity %+v, want %+v", c.Identity, tc.identity)
			}
			v, err := tr.Verify(c, nil, nil, c.NotBefore.Add(24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if v.Class != ClassHardware || v.Pinned {
				t.Errorf("class %s pinned %t, want hardware by chain", v.Class, v.Pinned)
			}
			if got := v.Chain[len(v.Chain)-1].Subject.CommonName; got != tc.anchorCN {
				t.Errorf("anchor %q, want %q", got, tc.anchorCN)
			}
		})
	}
}

// Quirk: the TPM identity is in a critical subjectAltName that crypto/x509
// does not handle; without Parse, Verify refuses the certificate.
func TestCriticalSANHandled(t *testing.T) {
	der := readCert(t, "st_ecdsa_sha256.der")
	raw, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Subject.Names) != 0 || len(raw.UnhandledCriticalExtensions) != 1 || !raw.UnhandledCriticalExtensions[0].Equal(oidSubjectAltName) {
		t.Fatalf("test data: want an empty subject and an unhandled critical SAN, found subject %q, unhandled %v", raw.Subject, raw.UnhandledCriticalExtensions)
	}
	tr := hardwareTrust(t)
	at := raw.NotBefore.Add(time.Hour)
	_, err = raw.Verify(x509.VerifyOptions{Roots: tr.pools[ClassHardware], CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var uce x509.UnhandledCriticalExtension
	if !errors.As(err, &uce) {
		t.Fatalf("crypto/x509 alone: err %v, want UnhandledCriticalExtension", err)
	}
	c, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.UnhandledCriticalExtensions) != 0 {
		t.Errorf("after Parse: unhandled %v", c.UnhandledCriticalExtensions)
	}
	if c.Identity.ManufacturerName() != "STM" {
		t.Errorf("manufacturer name %q, want STM", c.Identity.ManufacturerName())
	}
	if _, err := tr.Verify(c, nil, nil, at); err != nil {
		t.Fatal(err)
	}
}

// Quirk: the NV index holds zero padding after the DER.
func TestNVPadding(t *testing.T) {
	der := readCert(t, "st_sha256_with_rsa.der")
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Fatal("test data: crypto/x509 parses the padded certificate; want trailing data")
	}
	if _, err := Parse(der); err != nil {
		t.Fatal(err)
	}
	bad := append(bytes.Clone(der), 0x01)
	if _, err := Parse(bad); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "at byte 1600") {
		t.Fatalf("mixed padding: err %v, want ErrMalformed naming byte 1600", err)
	}
}

// Quirk: Keylime's PEM files lack a final newline; concatenated into one
// bundle, pem.Decode alone would lose most of them.
func TestBundleWithoutFinalNewlines(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(rootsDir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	noNewline, want := 0, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if b[len(b)-1] != '\n' {
			noNewline++
		}
		want += bytes.Count(b, []byte("-----BEGIN CERTIFICATE"))
		bundle = append(bundle, b...)
	}
	if noNewline == 0 {
		t.Fatal("test data: every PEM file ends in a newline")
	}
	naive := 0
	for rest := bundle; ; naive++ {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
	}
	if naive >= want {
		t.Fatalf("test data: pem.Decode finds %d of %d blocks; the quirk is gone", naive, want)
	}
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(path, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := NewTrust()
	n, err := tr.Load(ClassHardware, path)
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("bundle: %d certificates, want %d", n, want)
	}
	c, err := Parse(readCert(t, "st_ecdsa_sha256.der"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Verify(c, nil, nil, c.NotBefore.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// Quirk: Nuvoton's name is one RDN set in non-DER order; re-encoding it
// changes its bytes, so chains must match names by their raw bytes.
func TestNuvotonNonDERName(t *testing.T) {
	c, err := Parse(readCert(t, "nuvoton_ecdsa_sha256.der"))
	if err != nil {
		t.Fatal(err)
	}
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(c.RawSubject, &rdn); err != nil {
		t.Fatal(err)
	}
	re, err := asn1.Marshal(rdn)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(re, c.RawSubject) {
		t.Fatal("test data: the Nuvoton name is in DER order")
	}
	tr := NewTrust()
	if _, err := tr.Load(ClassHardware, filepath.Join(rootsDir, "NUVO_2110.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Verify(c, nil, nil, c.NotBefore.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	c, err := Parse(readCert(t, "st_ecdsa_sha256.der"))
	if err != nil {
		t.Fatal(err)
	}
	at := c.NotBefore.Add(time.Hour)
	nuvo := NewTrust()
	if _, err := nuvo.Load(ClassHardware, filepath.Join(rootsDir, "NUVO_2110.pem")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		tr *Trust
		at time.Time
	}{
		"no anchors":     {NewTrust(), at},
		"another vendor": {nuvo, at},
		"expired":        {hardwareTrust(t), c.NotAfter.Add(time.Hour)},
		"not yet valid":  {hardwareTrust(t), c.NotBefore.Add(-time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := tc.tr.Verify(c, nil, nil, tc.at)
			if !errors.Is(err, ErrUntrusted) || v != nil {
				t.Fatalf("Verify = %v, %v; want ErrUntrusted", v, err)
			}
		})
	}
}

// Software anchors win over hardware ones: a CA listed as both gives the
// weaker class.
func TestSoftwareClassFirst(t *testing.T) {
	tr := hardwareTrust(t)
	if _, err := tr.Load(ClassSoftware, filepath.Join(rootsDir, "STM_ECC_01I.pem")); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(readCert(t, "st_ecdsa_sha256.der"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tr.Verify(c, nil, nil, c.NotBefore.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if v.Class != ClassSoftware {
		t.Errorf("class %s, want software", v.Class)
	}
}

func TestPinnedKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ek.pub")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := NewTrust()
	if n, err := tr.LoadPins(ClassSoftware, path); err != nil || n != 1 {
		t.Fatalf("LoadPins = %d, %v", n, err)
	}
	v, err := tr.Verify(nil, &k.PublicKey, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !v.Pinned || v.Class != ClassSoftware {
		t.Errorf("got %+v, want pinned software", v)
	}
	if _, err := tr.Verify(nil, &other.PublicKey, nil, time.Now()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("unpinned key: %v, want ErrUntrusted", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"not a certificate": key, "empty directory": empty, "missing": filepath.Join(dir, "nope")} {
		if _, err := NewTrust().Load(ClassHardware, path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewTrust().Load("vendor", rootsDir); err == nil {
		t.Error("unknown class: no error")
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"st_sha256_with_rsa.der", "st_ecdsa_sha256.der", "nuvoton_ecdsa_sha256.der"} {
		b, err := os.ReadFile(filepath.Join(certsDir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if c.Certificate == nil {
			t.Fatal("nil certificate without an error")
		}
	})
}
