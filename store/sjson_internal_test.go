package store

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzDecodeSJSON: whatever the file holds, decoding it fails or succeeds, never panics, and
// what it decodes is a document the driver can marshal.
func FuzzDecodeSJSON(f *testing.F) {
	f.Add([]byte(`{"$s":{"p":{"_id":{"t":"string"},"n":{"t":"long"},"at":{"t":"date"},"o":{"t":"object","$s":{"p":{"a":{"t":"array","i":[{"t":"int"},{"t":"bool"}]}},"$k":["a"]}}},"$k":["_id","n","at","o"]},"_id":"x","n":9007199254740993,"at":1700000000000,"o":{"a":[1,true]}}`))
	f.Add([]byte(`{"$s":{"p":{},"$k":[]}}`))
	f.Add([]byte(`{"$s":{"p":{"a":{"t":"double"}},"$k":["a","a"]},"a":1.5}`))
	f.Add([]byte(`{"$s":{"p":{"o":{"t":"object"}},"$k":["o"]},"o":{"x":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeSJSON(data)
		if err != nil {
			return
		}
		if _, err := bson.Marshal(d); err != nil {
			t.Fatalf("decoded %v, which does not marshal: %v", d, err)
		}
	})
}
