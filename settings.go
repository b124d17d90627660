package zen7

// Settings is what an account admin configures for an instance. The JSON names are the
// settings form's input names, which Zenvia Sales uses as the keys it sends and reads.
type Settings struct {
	// ClientID and ClientSecret are the 7Targets OAuth2 client credentials.
	ClientID     string `json:"clientId" validate:"omitempty,max=256,token"`
	ClientSecret string `json:"clientSecret" validate:"omitempty,max=512,token"`
	// UserIdentifier is sent to 7Targets as the 7ts-user-identifier header.
	UserIdentifier string `json:"userIdentifier" validate:"omitempty,max=256,token"`
	// AssistantEmail names the 7Targets assistant that takes the leads.
	AssistantEmail string `json:"assistantEmail" validate:"omitempty,max=254,email"`
	// ScheduleName optionally picks the assistant's sequence (case sensitive).
	ScheduleName string `json:"scheduleName" validate:"omitempty,max=200,text"`
	// Source optionally overrides the lead's source in 7Targets.
	Source string `json:"source" validate:"omitempty,max=200,text"`
	// AutoForward forwards every new prospect without an agent's click.
	AutoForward bool `json:"autoForward"`
	// StopFollowupOnClaim stops the 7Targets sequence once an agent takes the prospect over.
	StopFollowupOnClaim bool `json:"stopFollowupOnClaim"`
}

// DefaultSettings are the settings of a newly installed instance.
func DefaultSettings() Settings {
	return Settings{AutoForward: true, StopFollowupOnClaim: true}
}

// Complete reports whether the settings hold everything needed to forward leads.
func (s Settings) Complete() bool {
	return s.ClientID != "" && s.ClientSecret != "" && s.UserIdentifier != "" && s.AssistantEmail != ""
}

// SecretMask stands in for a stored secret when settings are read. Sent back unchanged in an
// update, it means "keep the stored secret".
const SecretMask = "********"

// View returns the settings as Zenvia Sales reads them: every key of the form, secrets masked.
func (s Settings) View() map[string]any {
	secret := ""
	if s.ClientSecret != "" {
		secret = SecretMask
	}
	return map[string]any{
		"clientId":            s.ClientID,
		"clientSecret":        secret,
		"userIdentifier":      s.UserIdentifier,
		"assistantEmail":      s.AssistantEmail,
		"scheduleName":        s.ScheduleName,
		"source":              s.Source,
		"autoForward":         s.AutoForward,
		"stopFollowupOnClaim": s.StopFollowupOnClaim,
	}
}
