package sales

// ParseRateLimitReset exposes the X-RateLimit-Reset parser to the external tests.
var ParseRateLimitReset = parseRateLimitReset
