package extensions

// The routes of the extensions, spelled here once: the manifest registers the page URLs with
// Sales, the App serves them, and the sandbox and the load tool sign them.
const (
	// PathPrefix is what every route of the extensions starts with; a page's "back" URL must
	// be under it.
	PathPrefix = "/extensions/"
	// ReportsPath is where the report is served: ReportsPath + ReportKey.
	ReportsPath = PathPrefix + "reports/"
	// ButtonsPath is where the conversation-button dialog is served: ButtonsPath + ButtonKey.
	ButtonsPath = PathPrefix + "buttons/"
	// ActionPath is where the pages post their actions.
	ActionPath = PathPrefix + "actions"
	// ManifestPath serves NewManifest.
	ManifestPath = PathPrefix + "manifest"
)
