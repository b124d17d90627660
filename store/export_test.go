package store

import (
	"bytes"
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RawDocuments returns every document of a collection as stored (nested documents as bson.M),
// for tests that check what is, and is not, at rest.
func RawDocuments(ctx context.Context, d *DB, collection string) ([]bson.M, error) {
	cur, err := d.collection(collection).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var out []bson.M
	for cur.Next(ctx) {
		dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(cur.Current)))
		dec.DefaultDocumentM()
		var m bson.M
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, cur.Err()
}
