// Package zen7 is the App's domain: the types and errors that every part shares, and nothing
// that talks to the outside. An instance of the App with its state and settings, a prospect of
// Zenvia Sales, a delivery of that prospect to 7Targets with its outcome and reason, and the
// record of the prospect's 7Targets lead all live here, so that the feature packages
// (lifecycle, forwarding, extensions) and the adapters (store, sales, seventargets) depend on
// this package and never on each other for a type. The name reads "Zenvia to 7Targets".
//
// It follows the root package of Ben Johnson's Standard Package Layout: plain types and
// sentinel errors, no I/O, no imports of the project's other packages.
package zen7

// Text is a localizable string as Zenvia Sales expects it: English is mandatory and the
// default; Spanish and Portuguese follow.
type Text struct {
	En string `json:"en"`
	Es string `json:"es,omitempty"`
	Pt string `json:"pt,omitempty"`
}
