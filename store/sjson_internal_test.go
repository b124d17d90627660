package store

import (
	"encoding/binary"
	"reflect"
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
	f.Add([]byte(`{"$s":{"p":{"b":{"t":"binData","s":0},"c":{"t":"binData"}},"$k":["b","c"]},"b":"AAEC","c":""}`))
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

// FuzzEncodeSJSON: whatever document it is given, encoding it fails or writes what decodes
// back to the same document.
func FuzzEncodeSJSON(f *testing.F) {
	for _, d := range []bson.D{
		{{Key: "_id", Value: `a<&>"ü`}, {Key: "n", Value: int64(1) << 53}, {Key: "i", Value: int32(-1)}, {Key: "at", Value: bson.DateTime(-1)}},
		{{Key: "o", Value: bson.D{{Key: "a", Value: bson.A{"x", true, nil, bson.D{}}}}}, {Key: "e", Value: bson.A{}}},
		{{Key: "$s", Value: "x"}},
		{{Key: "a", Value: 1}, {Key: "a", Value: 2}},
	} {
		raw, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := bson.Raw(data)
		if raw.Validate() != nil {
			return
		}
		raw = raw[:binary.LittleEndian.Uint32(raw)] // without what follows the document
		enc, err := encodeSJSON(raw)
		if err != nil {
			return
		}
		d, err := decodeSJSON(enc)
		if err != nil {
			t.Fatalf("encoded %s, which does not decode: %v", enc, err)
		}
		var want bson.D
		if err := bson.Unmarshal(raw, &want); err != nil {
			return // a valid layout of values the driver does not read either
		}
		if !reflect.DeepEqual(d, want) && !(len(d) == 0 && len(want) == 0) {
			t.Fatalf("encoded %v as %s, decoded as %v", want, enc, d)
		}
	})
}
