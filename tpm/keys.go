package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// EnsureAK returns the attestation key at opts.Handle, creating it and
// making it persistent when the handle is empty. It is idempotent: an
// existing key is reused when its public area is what the template for
// opts.Alg makes (type, name algorithm, attributes, scheme, curve or size);
// a handle holding any other object is an error and is left alone.
//
// The key is a primary key created in the owner hierarchy from AKTemplate,
// with an empty owner password. With opts.Cloud it is the cloud's AK
// (CloudAK).
func (t *TPM) EnsureAK(opts AKOptions) (*AK, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if o.Cloud {
		c, err := t.CloudAK()
		if err != nil {
			return nil, err
		}
		return c.AK, nil
	}
	tmpl, err := AKTemplate(o.Alg)
	if err != nil {
		return nil, err
	}
	rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(o.Handle)}.Execute(t.t)
	switch {
	case err == nil:
		return akFromPublic(o, rp.OutPublic.Bytes(), rp.Name.Buffer, tmpl)
	case !errors.Is(err, tpm2.TPMRCHandle):
		return nil, fmt.Errorf("reading attestation key at 0x%08x: %w", o.Handle, err)
	}

	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("creating attestation key (%s) in the owner hierarchy: %w", o.Alg, err)
	}
	defer t.flush(cp.ObjectHandle)
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: tpm2.TPMHandle(o.Handle),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("making attestation key persistent at 0x%08x: %w", o.Handle, err)
	}
	return akFromPublic(o, cp.OutPublic.Bytes(), cp.Name.Buffer, tmpl)
}

// flush unloads a transient object; the TPM has a handful of slots and
// swtpm and the simulator have no resource manager to do it for us.
func (t *TPM) flush(h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t.t)
}

func akFromPublic(o AKOptions, public, name []byte, tmpl tpm2.TPMTPublic) (*AK, error) {
	pub, err := parsePublic(public)
	if err != nil {
		return nil, fmt.Errorf("attestation key at 0x%08x: %w", o.Handle, err)
	}
	if err := matchesTemplate(pub, &tmpl); err != nil {
		return nil, fmt.Errorf("handle 0x%08x holds a key that is not a %s attestation key from this template (%v); choose another handle or evict it", o.Handle, o.Alg, err)
	}
	k, err := publicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("attestation key at 0x%08x: %w", o.Handle, err)
	}
	return &AK{Handle: o.Handle, Alg: o.Alg, Public: bytes.Clone(public), Name: bytes.Clone(name), PublicKey: k}, nil
}

// matchesTemplate compares everything but the unique field (the key itself).
func matchesTemplate(pub, tmpl *tpm2.TPMTPublic) error {
	if pub.Type != tmpl.Type {
		return fmt.Errorf("type 0x%04x, want 0x%04x", uint16(pub.Type), uint16(tmpl.Type))
	}
	if !bytes.Equal(publicWithoutUnique(pub), publicWithoutUnique(tmpl)) {
		return fmt.Errorf("attributes or parameters differ")
	}
	return nil
}

// publicWithoutUnique marshals the public area up to (not including) unique.
func publicWithoutUnique(p *tpm2.TPMTPublic) []byte {
	c := *p
	c.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})
	if p.Type == tpm2.TPMAlgRSA {
		c.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{})
	}
	return tpm2.Marshal(&c)
}
