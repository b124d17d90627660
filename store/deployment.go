package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// colDeployment holds what the deployment as a whole decided, one small document each.
const colDeployment = "deployment"

// publicBaseURLID is the _id of the document recording the deployment's public base URL.
const publicBaseURLID = "publicBaseURL"

type deploymentURLDoc struct {
	ID  string    `bson:"_id"`
	URL string    `bson:"url"`
	At  time.Time `bson:"at"`
}

// ClaimPublicBaseURL records url as the deployment's public base URL unless one is recorded
// already, and returns the URL recorded: url itself the first time. The insert is by a fixed
// _id, so processes starting at once with different URLs get one answer.
func (d *DB) ClaimPublicBaseURL(ctx context.Context, url string) (string, error) {
	_, err := d.collection(colDeployment).InsertOne(ctx, deploymentURLDoc{ID: publicBaseURLID, URL: url, At: time.Now().UTC()})
	if err == nil {
		return url, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return "", fmt.Errorf("store.ClaimPublicBaseURL: %w", err)
	}
	recorded, err := d.PublicBaseURL(ctx)
	if err != nil {
		return "", fmt.Errorf("store.ClaimPublicBaseURL: %w", err)
	}
	return recorded, nil
}

// PublicBaseURL returns the deployment's recorded public base URL; zen7.ErrNotFound if none
// is recorded.
func (d *DB) PublicBaseURL(ctx context.Context) (string, error) {
	var doc deploymentURLDoc
	err := d.collection(colDeployment).FindOne(ctx, bson.D{{Key: "_id", Value: publicBaseURLID}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return "", fmt.Errorf("store.PublicBaseURL: %w", zen7.ErrNotFound)
	case err != nil:
		return "", fmt.Errorf("store.PublicBaseURL: %w", err)
	}
	return doc.URL, nil
}

// SetPublicBaseURL records url as the deployment's public base URL, whatever was recorded, and
// returns the URL it replaced ("" if none was).
func (d *DB) SetPublicBaseURL(ctx context.Context, url string) (string, error) {
	var before deploymentURLDoc
	err := d.collection(colDeployment).FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: publicBaseURLID}},
		deploymentURLDoc{ID: publicBaseURLID, URL: url, At: time.Now().UTC()},
		options.FindOneAndReplace().SetUpsert(true).SetReturnDocument(options.Before)).Decode(&before)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return "", fmt.Errorf("store.SetPublicBaseURL: %w", err)
	}
	return before.URL, nil
}
