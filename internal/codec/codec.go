// Package codec encrypts every payload the system hands to Temporal (workflow
// inputs and results, activity arguments, updates, queries) with AES-256-GCM,
// so workflow histories hold no personal data in clear. The key ID travels in
// each payload's metadata: a new key can be added and made active while
// payloads written under older keys still decrypt.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks a payload this codec encrypted.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key a payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
)

// Codec is a converter.PayloadCodec.
type Codec struct {
	active string
	keys   map[string]cipher.AEAD
}

// Key is one named 256-bit key.
type Key struct {
	ID     string
	Secret []byte
}

// ParseKeys reads "id:base64key,id:base64key"; the first key is the one new
// payloads are encrypted with, the others only decrypt.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for _, part := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			return nil, errors.New(`want "id:base64key[,id:base64key...]"`)
		}
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key %s: not base64: %w", id, err)
		}
		if len(secret) != 32 {
			return nil, fmt.Errorf("key %s: %d bytes, want 32 (AES-256)", id, len(secret))
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

// New returns a codec that encrypts with keys[0] and decrypts with any of keys.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec needs at least one key")
	}
	aeads, err := AEADs(keys)
	if err != nil {
		return nil, err
	}
	return &Codec{active: keys[0].ID, keys: aeads}, nil
}

// AEADs makes an AES-GCM cipher of each key, by its ID: for this codec and
// for anything else keyed the same way (staff TOTP secrets).
func AEADs(keys []Key) (map[string]cipher.AEAD, error) {
	aeads := make(map[string]cipher.AEAD, len(keys))
	for _, k := range keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		if aeads[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	return aeads, nil
}

// DataConverter is Temporal's default converter with this codec behind it.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode encrypts each whole payload (metadata and data) under the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.active),
			},
			// The key ID is authenticated too: a payload moved under another key's name fails.
			Data: aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted and passes others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with unknown key %q", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("encrypted payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, err
		}
		out[i] = &decoded
	}
	return out, nil
}
