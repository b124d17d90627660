package extensions

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"sync"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// The keys under which the report and the button are registered with Sales.
const (
	ReportKey = "seventargets-report"
	ButtonKey = "seventargets-lead"
)

// Definition is a report or button definition to register with Sales.
type Definition struct {
	Key  string    `json:"key"`
	Name zen7.Text `json:"name"` // every language filled: the contract requires es and pt, which zen7.Text omits when empty
	URL  string    `json:"url"`
	Icon string    `json:"icon,omitempty"`
}

// Manifest is what GET ManifestPath returns.
type Manifest struct {
	Reports []Definition `json:"reports"`
	Buttons []Definition `json:"buttons"`
}

// NewManifest returns the definitions to register, with URLs on publicBaseURL. Sales adds the
// report's range, start, end, group, parentGroup and signature itself; the placeholders carry
// what the pages need besides. The App's own parameters (user, group, language, prospect id)
// come first and the prospect's free text (names, emails, phones) last: should Sales leave an
// "&" of a name unencoded, what it smuggles in comes after the genuine values, which a reader
// taking the first value keeps; VerifySignature refuses such a URL anyway.
func NewManifest(publicBaseURL string) Manifest {
	return Manifest{
		Reports: []Definition{{
			Key:  ReportKey,
			Name: zen7.Text{En: "7Targets: forwarded leads", Es: "7Targets: leads reenviados", Pt: "7Targets: leads encaminhados"},
			URL:  publicBaseURL + ReportsPath + ReportKey + "?user=${user._id}&lang=${group.language}",
		}},
		Buttons: []Definition{{
			Key:  ButtonKey,
			Name: zen7.Text{En: "7Targets", Es: "7Targets", Pt: "7Targets"},
			URL: publicBaseURL + ButtonsPath + ButtonKey + "?user=${user._id}&group=${group._id}&lang=${group.language}" +
				"&prospect=${prospect._id}&firstName=${prospect.firstName}&lastName=${prospect.lastName}" +
				"&emails=${prospect.emails}&phones=${prospect.phones}",
			Icon: Icon(),
		}},
	}
}

// Icon returns the button icon: a 64×64 PNG as a data URI, drawn once.
var Icon = sync.OnceValue(func() string {
	const size = 64
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{R: 0x4B, G: 0x2E, B: 0xB8, A: 0xFF}
	fg := color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xFF}
	for y := range size {
		for x := range size {
			// A rounded square, with a paper plane (a triangle and its fold) in white.
			if !inRoundedSquare(x, y, size, 14) {
				continue
			}
			img.Set(x, y, bg)
			fx, fy := float64(x), float64(y)
			inPlane := fy >= 14+0.35*(fx-12) && fy <= 50-0.55*(fx-12) && fx >= 12 && fx <= 52
			fold := fy > 32 && fy < 34+0.2*(52-fx) && fx > 30
			if inPlane && !fold {
				img.Set(x, y, fg)
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
})

func inRoundedSquare(x, y, size, r int) bool {
	cx := min(max(x, r), size-1-r)
	cy := min(max(y, r), size-1-r)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= r*r
}
