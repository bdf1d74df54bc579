package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
)

// Seal encrypts value with key (32 bytes, AES-GCM) for keeping where it
// must not be read in clear, such as a form kept in a session across a
// timeout, which may hold an email or a national ID.
func Seal(key []byte, value string) (string, error) {
	aead, err := gcm(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(value), nil)), nil
}

// Open decrypts what Seal made with the same key; false for anything else.
func Open(key []byte, sealed string) (string, bool) {
	aead, err := gcm(key)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < aead.NonceSize() {
		return "", false
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	return string(plain), err == nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
