package lifecycle

import "time"

// SetClock makes the Service read the time from now, for tests of what happens as time passes.
func (s *Service) SetClock(now func() time.Time) { s.now = now }
