package tpm_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/attest-build/attest-build/tpm"
)

// exampleQuote is a real TPM2_Quote over sha256:10 made in a Debian 12 VM by
// swtpm with an ECC P-256 AK (testdata/quotes/README.md).
const exampleQuote = "../testdata/quotes/vm-debian12-swtpm"

func readQuoteFile(name string) []byte {
	b, err := os.ReadFile(filepath.Join(exampleQuote, name))
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// quoteNonce is the qualifyingData the quote was made with (hex in "nonce").
func quoteNonce() []byte {
	n, err := hex.DecodeString(string(bytes.TrimSpace(readQuoteFile("nonce"))))
	if err != nil {
		log.Fatal(err)
	}
	return n
}

// quotePCR10 is sha256 PCR 10 as sysfs reported it in the VM ("pcrs.txt").
func quotePCR10() tpm.PCRValue {
	for _, line := range bytes.Split(readQuoteFile("pcrs.txt"), []byte("\n")) {
		var bank, value string
		var index int
		if _, err := fmt.Sscan(string(line), &bank, &index, &value); err != nil || bank != "sha256" || index != 10 {
			continue
		}
		v, err := hex.DecodeString(value)
		if err != nil {
			log.Fatal(err)
		}
		return tpm.PCRValue{Bank: bank, Index: index, Value: v}
	}
	log.Fatal("pcrs.txt: no sha256 PCR 10")
	return tpm.PCRValue{}
}

// Verify a quote made by a real TPM. The AK public key, the nonce and the PCR
// values are the trusted inputs; only a quote that passes every check yields
// a VerifiedQuote.
func ExampleVerifyQuote() {
	ak, err := tpm.ParseAKPEM(readQuoteFile("ak.pem"))
	if err != nil {
		log.Fatal(err)
	}
	vq, err := tpm.VerifyQuote(readQuoteFile("quote.msg"), readQuoteFile("quote.sig"), ak, tpm.VerifyOptions{
		Nonce: quoteNonce(),
		PCRs:  []tpm.PCRValue{quotePCR10()},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified quote over", vq.Selection, "signed with", vq.SignatureHash)
	fmt.Printf("nonce: %x\n", vq.ExtraData)
	fmt.Println("PCR:", vq.PCRs[0])
	fmt.Printf("pcrDigest: %x\n", vq.PCRDigest)
	// The AK is in the owner hierarchy, so the TPM obfuscates the reset and
	// restart counts (TPM 2.0 Part 3, 18.1); Clock and Safe are plain.
	fmt.Printf("clock: %d ms, resets %d, restarts %d, safe %v\n",
		vq.ClockInfo.Clock, vq.ClockInfo.ResetCount, vq.ClockInfo.RestartCount, vq.ClockInfo.Safe)
	// Output:
	// verified quote over sha256:10 signed with SHA-256
	// nonce: 456d00725d22a0c472ada5e54ae459422156cd7d
	// PCR: sha256:10=4af79a5e79a3e06675d7785b3be6e45537d47adb0a9b3042f6e71e6fb9c9347d
	// pcrDigest: 53caef4be7de1f415000744b6eb73966c10a26afbb3e796b262593b43d40be01
	// clock: 5908 ms, resets 178939093, restarts 3259850179, safe true
}

// A quote checked against another nonce than the one it carries fails the
// nonce check: errors.Is tells the check apart, and the *MismatchError holds
// the expected and found values.
func ExampleVerifyQuote_wrongNonce() {
	ak, err := tpm.ParseAKPEM(readQuoteFile("ak.pem"))
	if err != nil {
		log.Fatal(err)
	}
	nonce := quoteNonce()
	nonce[0] ^= 0xff // a replayed quote: the verifier asked for another nonce
	vq, err := tpm.VerifyQuote(readQuoteFile("quote.msg"), readQuoteFile("quote.sig"), ak, tpm.VerifyOptions{
		Nonce: nonce,
		PCRs:  []tpm.PCRValue{quotePCR10()},
	})
	fmt.Println("verified quote:", vq != nil)
	fmt.Println("errors.Is(err, tpm.ErrNonce):", errors.Is(err, tpm.ErrNonce))
	fmt.Println("errors.Is(err, tpm.ErrSignature):", errors.Is(err, tpm.ErrSignature))
	var me *tpm.MismatchError
	if errors.As(err, &me) {
		fmt.Println("field:", me.Field)
		fmt.Println("expected:", me.Expected)
		fmt.Println("found:   ", me.Found)
	}
	// Output:
	// verified quote: false
	// errors.Is(err, tpm.ErrNonce): true
	// errors.Is(err, tpm.ErrSignature): false
	// field: TPMS_ATTEST.extraData
	// expected: ba6d00725d22a0c472ada5e54ae459422156cd7d
	// found:    456d00725d22a0c472ada5e54ae459422156cd7d
}

// Parse a PCR selection as the CLI's --pcrs flag takes it.
func ExampleParsePCRSelection() {
	sel, err := tpm.ParsePCRSelection("sha256:0-7,10+sha1:10")
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range sel {
		fmt.Println(b.Bank, b.Indices)
	}
	fmt.Println(sel)
	fmt.Println("sha1 PCR 10:", sel.Contains("sha1", 10), "sha1 PCR 0:", sel.Contains("sha1", 0))

	_, err = tpm.ParsePCRSelection("sha256:0,0")
	fmt.Println(err)
	// Output:
	// sha256 [0 1 2 3 4 5 6 7 10]
	// sha1 [10]
	// sha256:0-7,10+sha1:10
	// sha1 PCR 10: true sha1 PCR 0: false
	// PCR selection "sha256:0,0": bank sha256: PCR 0 given twice
}
