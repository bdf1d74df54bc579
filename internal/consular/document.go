package consular

// Document is a document a request starts with: its kind (the service's
// name for it, e.g. "passport_scan"), its object key in storage and the
// SHA-256 of the bytes that were checked when it was uploaded.
type Document struct {
	Kind      string
	ObjectKey string
	SHA256    string
}
