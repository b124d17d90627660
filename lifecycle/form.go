package lifecycle

import (
	zen7 "github.com/7targets/zenvia-sales-app"

	"sync"
)

// Form is the settings form Zenvia Sales renders for account admins (the Sales settings form
// schema). Input names are the settings keys.
type Form struct {
	Title       zen7.Text        `json:"title"`
	Description zen7.Text        `json:"description"`
	Hint        zen7.Text        `json:"hint"`
	Sections    []FormSection    `json:"sections"`
	Validations []FormValidation `json:"validations"`
}

// FormSection groups inputs under a title.
type FormSection struct {
	Name        string      `json:"name"`
	Title       zen7.Text   `json:"title"`
	Description zen7.Text   `json:"description"`
	Inputs      []FormInput `json:"inputs"`
}

// FormInput is one field of the form.
type FormInput struct {
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Label       zen7.Text      `json:"label"`
	Hint        zen7.Text      `json:"hint"`
	CustomProps map[string]any `json:"customProps,omitempty"`
}

// FormValidation changes the form when the values entered match Where.
type FormValidation struct {
	Where   map[string]any `json:"where"`
	Changes []FormChange   `json:"changes"`
}

// FormChange is what a FormValidation changes on one input.
type FormChange struct {
	Name    string     `json:"name"`
	Hint    *zen7.Text `json:"hint,omitempty"`
	Warning *zen7.Text `json:"warning,omitempty"`
	Error   *zen7.Text `json:"error,omitempty"`
}

// formSection is a section of the settings form; its inputs are the settings whose Section
// names it.
type formSection struct {
	name               string
	title, description zen7.Text
}

// formSections are the form's sections, in order. The inputs come from zen7.SettingKeys, so
// that a setting is described once; what belongs to the form as a whole (its sections, texts
// and validations) stays here.
var formSections = []formSection{
	{
		name:  "credentials",
		title: zen7.Text{En: "7Targets account", Es: "Cuenta de 7Targets", Pt: "Conta da 7Targets"},
		description: zen7.Text{
			En: "The credentials are checked with 7Targets before they are saved.",
			Es: "Las credenciales se verifican con 7Targets antes de guardarlas.",
			Pt: "As credenciais são verificadas com a 7Targets antes de serem salvas.",
		},
	},
	{
		name:  "assistant",
		title: zen7.Text{En: "Assistant", Es: "Asistente", Pt: "Assistente"},
		description: zen7.Text{
			En: "Which 7Targets assistant writes to the leads, and with which sequence.",
			Es: "Qué asistente de 7Targets escribe a los leads y con qué secuencia.",
			Pt: "Qual assistente da 7Targets escreve aos leads e com qual sequência.",
		},
	},
	{
		name:  "behaviour",
		title: zen7.Text{En: "Forwarding", Es: "Reenvío", Pt: "Encaminhamento"},
		description: zen7.Text{
			En: "When prospects go to 7Targets and when their follow-up stops.",
			Es: "Cuándo van los prospectos a 7Targets y cuándo se detiene su seguimiento.",
			Pt: "Quando os prospects vão para a 7Targets e quando o acompanhamento para.",
		},
	},
	{
		name:  "chattonic",
		title: zen7.Text{En: "Chat-Tonic", Es: "Chat-Tonic", Pt: "Chat-Tonic"},
		description: zen7.Text{
			En: "Import the leads your Chat-Tonic bots capture as Zenvia Sales prospects, which then go to 7Targets like any other. The codename and token are checked with Chat-Tonic before they are saved.",
			Es: "Importe los leads que capturan sus bots de Chat-Tonic como prospectos de Zenvia Sales, que luego van a 7Targets como cualquier otro. El codename y el token se verifican con Chat-Tonic antes de guardarlos.",
			Pt: "Importe os leads que seus bots do Chat-Tonic capturam como prospects do Zenvia Sales, que depois vão para a 7Targets como qualquer outro. O codename e o token são verificados com o Chat-Tonic antes de serem salvos.",
		},
	},
}

// SettingsForm returns the settings form. Its inputs are the entries of zen7.SettingKeys, by
// section, so that what Sales sends back always parses. Every call builds a new form.
func SettingsForm() Form { return SettingsFormWith(nil) }

// SettingsFormWith returns the settings form of an instance whose credentials see these
// assistants: assistantEmail offers them as its choices (a select input), or stays a text
// input when there are none to offer.
func SettingsFormWith(assistants []Assistant) Form {
	keys := zen7.SettingKeys()
	sections := make([]FormSection, 0, len(formSections))
	for _, sec := range formSections {
		fs := FormSection{Name: sec.name, Title: sec.title, Description: sec.description}
		for _, k := range keys {
			if k.Section != sec.name {
				continue
			}
			in := FormInput{Name: k.Name, Type: k.Input, Label: k.Label, Hint: k.Hint}
			if k.Kind() == zen7.SettingNumber {
				// The schema's inputs take their type's properties in customProps; a number
				// input's are the HTML ones, so the form itself keeps the value in range.
				in.CustomProps = map[string]any{"min": k.Min, "max": k.Max, "step": 1}
			}
			if k.Name == "assistantEmail" && len(assistants) > 0 {
				in.Type, in.CustomProps = "select", map[string]any{"options": assistantOptions(assistants)}
			}
			fs.Inputs = append(fs.Inputs, in)
		}
		sections = append(sections, fs)
	}
	return Form{
		Title: zen7.Text{
			En: "7Targets AI Sales Assistant",
			Es: "Asistente de ventas con IA de 7Targets",
			Pt: "Assistente de vendas com IA da 7Targets",
		},
		Description: zen7.Text{
			En: "Hands every new prospect to your 7Targets assistant, which writes to the lead and follows up on its own until an agent takes over.",
			Es: "Entrega cada nuevo prospecto a su asistente de 7Targets, que escribe al lead y hace el seguimiento por sí mismo hasta que un agente lo toma.",
			Pt: "Entrega cada novo prospect ao seu assistente da 7Targets, que escreve ao lead e faz o acompanhamento sozinho até que um agente assuma.",
		},
		Hint: zen7.Text{
			En: "Ask 7Targets support (support@7targets.com) for an API client id and secret. The user identifier is shown in the 7Targets app.",
			Es: "Solicite a soporte de 7Targets (support@7targets.com) un client id y secret de API. El identificador de usuario aparece en la aplicación de 7Targets.",
			Pt: "Peça ao suporte da 7Targets (support@7targets.com) um client id e secret de API. O identificador de usuário aparece no aplicativo da 7Targets.",
		},
		Sections: sections,
		Validations: []FormValidation{
			{
				Where: map[string]any{"autoForward": false},
				Changes: []FormChange{{
					Name: "autoForward",
					Warning: &zen7.Text{
						En: "New prospects reach 7Targets only when an agent forwards them.",
						Es: "Los nuevos prospectos llegan a 7Targets solo cuando un agente los reenvía.",
						Pt: "Novos prospects chegam à 7Targets somente quando um agente os encaminha.",
					},
				}},
			},
		},
	}
}

// formOrder is the setting names in the order the form shows them.
var formOrder = sync.OnceValue(func() []string {
	var names []string
	for _, sec := range SettingsForm().Sections {
		for _, in := range sec.Inputs {
			names = append(names, in.Name)
		}
	}
	return names
})

// FormOption is one choice of a select input.
type FormOption struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// maxFormOptions bounds the choices a select offers; an admin with more assistants types the
// address into the routing rules instead.
const maxFormOptions = 500

func assistantOptions(assistants []Assistant) []FormOption {
	opts := make([]FormOption, 0, min(len(assistants), maxFormOptions))
	for _, a := range assistants[:min(len(assistants), maxFormOptions)] {
		label := a.Email
		if a.Name != "" {
			label = a.Name + " <" + a.Email + ">"
		}
		opts = append(opts, FormOption{Value: a.Email, Label: label})
	}
	return opts
}
