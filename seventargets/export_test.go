package seventargets

// ParseRetryAfter exposes parseRetryAfter to the external tests and fuzz
// target without widening the package's API.
var ParseRetryAfter = parseRetryAfter
