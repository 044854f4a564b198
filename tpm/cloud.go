package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// NV indices and handles where clouds provision their vTPMs' attestation
// keys and AK certificates.
const (
	// GCE (go-tpm-tools client/handles.go): the AK is a primary key of the
	// endorsement hierarchy made from the template at the template index;
	// its certificate, issued by Google, is at the certificate index.
	GCEAKCertIndexRSA     uint32 = 0x01c10000
	GCEAKTemplateIndexRSA uint32 = 0x01c10001
	GCEAKCertIndexECC     uint32 = 0x01c10002
	GCEAKTemplateIndexECC uint32 = 0x01c10003
	// Azure (trusted launch and confidential VMs): the AK is persistent at
	// AzureAKHandle; its certificate, issued by Azure, is at
	// AzureAKCertIndex.
	AzureAKCertIndex uint32 = 0x01c101d0
	AzureAKHandle    uint32 = 0x81000003
)

// Clouds whose vTPMs carry an AK certificate.
const (
	CloudGCE   = "gce"
	CloudAzure = "azure"
)

// ErrNoCloudAK reports a TPM without a cloud-provisioned AK certificate.
var ErrNoCloudAK = errors.New("no cloud-provisioned AK certificate in the TPM's NV")

// CloudAK is a cloud-provisioned attestation key and its certificate.
type CloudAK struct {
	Cloud string
	AK    *AK
	// Certificate is the AK certificate as stored in NV (DER, possibly
	// followed by padding).
	Certificate []byte
}

// cloudAKPersistHandle is where a GCE AK (a primary key, recreated from its
// template) is made persistent, so it is quoted like any other AK.
const cloudAKPersistHandle uint32 = 0x81008A03

// CloudAK finds the AK a cloud provisioned (Azure's persistent AK, GCE's
// ECC then RSA AK template) with its certificate, as go-tpm-tools' client
// and Azure's documentation describe them. A GCE AK is recreated from its
// template and made persistent at 0x81008A03. An error wrapping
// ErrNoCloudAK when there is none.
func (t *TPM) CloudAK() (*CloudAK, error) {
	cert, err := t.readNV(AzureAKCertIndex)
	switch {
	case err == nil:
		rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(AzureAKHandle)}.Execute(t.t)
		if err != nil {
			return nil, fmt.Errorf("Azure AK at 0x%08x: %w", AzureAKHandle, err)
		}
		ak, err := cloudAK(AzureAKHandle, rp.OutPublic.Bytes(), rp.Name.Buffer)
		if err != nil {
			return nil, fmt.Errorf("Azure AK: %w", err)
		}
		return &CloudAK{Cloud: CloudAzure, AK: ak, Certificate: cert}, nil
	case !errors.Is(err, errNVAbsent):
		return nil, fmt.Errorf("reading Azure's AK certificate at NV 0x%08x: %w", AzureAKCertIndex, err)
	}
	for _, idx := range []struct{ cert, tmpl uint32 }{{GCEAKCertIndexECC, GCEAKTemplateIndexECC}, {GCEAKCertIndexRSA, GCEAKTemplateIndexRSA}} {
		cert, err := t.readNV(idx.cert)
		if errors.Is(err, errNVAbsent) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading GCE's AK certificate at NV 0x%08x: %w", idx.cert, err)
		}
		tmpl, err := t.readNV(idx.tmpl)
		if err != nil {
			return nil, fmt.Errorf("reading GCE's AK template at NV 0x%08x: %w", idx.tmpl, err)
		}
		ak, err := t.gceAK(tmpl)
		if err != nil {
			return nil, err
		}
		return &CloudAK{Cloud: CloudGCE, AK: ak, Certificate: cert}, nil
	}
	return nil, ErrNoCloudAK
}

func cloudAK(handle uint32, public, name []byte) (*AK, error) {
	k, err := ParseAKPublic(public)
	if err != nil {
		return nil, err
	}
	pub, _ := parsePublic(public)
	alg := AKECCP256
	if pub.Type == tpm2.TPMAlgRSA {
		alg = AKRSA2048
	}
	return &AK{Handle: handle, Alg: alg, Public: bytes.Clone(public), Name: bytes.Clone(name), PublicKey: k}, nil
}

// gceAK recreates GCE's AK from its template in the endorsement hierarchy
// and keeps it at cloudAKPersistHandle.
func (t *TPM) gceAK(template []byte) (*AK, error) {
	tmpl, err := parsePublic(template)
	if err != nil {
		return nil, fmt.Errorf("GCE AK template: %w", err)
	}
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(*tmpl),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("creating GCE's AK from its template: %w", err)
	}
	defer t.flush(cp.ObjectHandle)
	rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(cloudAKPersistHandle)}.Execute(t.t)
	switch {
	case err == nil:
		if !bytes.Equal(rp.Name.Buffer, cp.Name.Buffer) {
			return nil, fmt.Errorf("handle 0x%08x holds another key than GCE's AK; evict it", cloudAKPersistHandle)
		}
	case errors.Is(err, tpm2.TPMRCHandle):
		if _, err := (tpm2.EvictControl{
			Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
			PersistentHandle: tpm2.TPMHandle(cloudAKPersistHandle),
		}).Execute(t.t); err != nil {
			return nil, fmt.Errorf("making GCE's AK persistent at 0x%08x: %w", cloudAKPersistHandle, err)
		}
	default:
		return nil, err
	}
	ak, err := cloudAK(cloudAKPersistHandle, cp.OutPublic.Bytes(), cp.Name.Buffer)
	if err != nil {
		return nil, fmt.Errorf("GCE AK: %w", err)
	}
	return ak, nil
}

// WriteNV defines an NV index of the owner (empty authorization, readable
// with its own empty authorization) and writes data to it: what a cloud
// does to provision AK certificates, for tests and for storing an AK
// certificate in the TPM. An existing index is an error.
func (t *TPM) WriteNV(index uint32, data []byte) error {
	def := tpm2.NVDefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: tpm2.TPMHandle(index),
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, OwnerRead: true, AuthRead: true, AuthWrite: true, NoDA: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: uint16(len(data)),
		}),
	}
	if _, err := def.Execute(t.t); err != nil {
		return fmt.Errorf("defining NV index 0x%08x: %w", index, err)
	}
	pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(t.t)
	if err != nil {
		return fmt.Errorf("reading NV index 0x%08x: %w", index, err)
	}
	for off := 0; off < len(data); off += nvChunk {
		end := min(off+nvChunk, len(data))
		if _, err := (tpm2.NVWrite{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: pub.NVName},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]},
			Offset:     uint16(off),
		}).Execute(t.t); err != nil {
			return fmt.Errorf("writing NV index 0x%08x at %d: %w", index, off, err)
		}
	}
	return nil
}
