package predicates_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log"

	"github.com/attest-build/attest-build/predicates"
)

// With one subject the end quote's nonce is the artifact's SHA-256, so
// `tpm2_checkquote -q $(sha256sum hello | cut -d' ' -f1)` checks the quote.
func ExampleSubjectsNonce() {
	nonce, construction, err := predicates.SubjectsNonce([]predicates.Subject{
		{Name: "hello", SHA256: sha256.Sum256([]byte("hello, world\n"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(construction)
	fmt.Printf("%x\n", nonce)
	// Output:
	// subject-sha256
	// 853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020
}

// With several subjects the nonce is the SHA-256 of their sha256sum(1) lines
// sorted by name, whatever order they are given in:
// `sha256sum hello hello.tar.gz README | LC_ALL=C sort -k2 | sha256sum`.
func ExampleSubjectsNonce_severalSubjects() {
	subjects := []predicates.Subject{
		{Name: "hello.tar.gz", SHA256: sha256.Sum256([]byte("not really a tarball\n"))},
		{Name: "hello", SHA256: sha256.Sum256([]byte("hello, world\n"))},
		{Name: "README", SHA256: sha256.Sum256([]byte("Say hello.\n"))},
	}
	nonce, construction, err := predicates.SubjectsNonce(subjects)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(construction)
	fmt.Printf("%x\n", nonce)

	// The order of the subjects does not change the nonce.
	reversed := []predicates.Subject{subjects[2], subjects[1], subjects[0]}
	again, _, err := predicates.SubjectsNonce(reversed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same for another order:", bytes.Equal(again, nonce))

	// A name given twice has no encoding.
	_, _, err = predicates.SubjectsNonce(append(subjects, subjects[1]))
	fmt.Println(err)
	// Output:
	// subject-list-sha256
	// 8deae5cace17371d2f94d7d6334f046421906c5b8b921c3a0cfc3f2def199c2b
	// same for another order: true
	// subjects cannot be encoded: subject name "hello" appears twice
}
