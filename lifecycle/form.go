package lifecycle

import zen7 "github.com/7targets/zenvia-sales-app"

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

// SettingsForm returns the settings form. Its input names are exactly the Settings keys, which
// a test checks, so that what Sales sends back always parses.
func SettingsForm() Form {
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
		Sections: []FormSection{
			{
				Name:  "credentials",
				Title: zen7.Text{En: "7Targets account", Es: "Cuenta de 7Targets", Pt: "Conta da 7Targets"},
				Description: zen7.Text{
					En: "The credentials are checked with 7Targets before they are saved.",
					Es: "Las credenciales se verifican con 7Targets antes de guardarlas.",
					Pt: "As credenciais são verificadas com a 7Targets antes de serem salvas.",
				},
				Inputs: []FormInput{
					{
						Name:  "clientId",
						Type:  "text",
						Label: zen7.Text{En: "Client ID", Es: "Client ID", Pt: "Client ID"},
						Hint:  zen7.Text{En: "The OAuth2 client id issued by 7Targets.", Es: "El client id OAuth2 emitido por 7Targets.", Pt: "O client id OAuth2 emitido pela 7Targets."},
					},
					{
						Name:  "clientSecret",
						Type:  "password",
						Label: zen7.Text{En: "Client secret", Es: "Client secret", Pt: "Client secret"},
						Hint:  zen7.Text{En: "Stored encrypted and never shown again.", Es: "Se guarda cifrado y no se vuelve a mostrar.", Pt: "Armazenado criptografado e nunca mais exibido."},
					},
					{
						Name:  "userIdentifier",
						Type:  "text",
						Label: zen7.Text{En: "User identifier", Es: "Identificador de usuario", Pt: "Identificador de usuário"},
						Hint:  zen7.Text{En: "The 7ts-user-identifier value from the 7Targets app.", Es: "El valor 7ts-user-identifier de la aplicación de 7Targets.", Pt: "O valor 7ts-user-identifier do aplicativo da 7Targets."},
					},
				},
			},
			{
				Name:  "assistant",
				Title: zen7.Text{En: "Assistant", Es: "Asistente", Pt: "Assistente"},
				Description: zen7.Text{
					En: "Which 7Targets assistant writes to the leads, and with which sequence.",
					Es: "Qué asistente de 7Targets escribe a los leads y con qué secuencia.",
					Pt: "Qual assistente da 7Targets escreve aos leads e com qual sequência.",
				},
				Inputs: []FormInput{
					{
						Name:  "assistantEmail",
						Type:  "text",
						Label: zen7.Text{En: "Assistant email", Es: "Email del asistente", Pt: "Email do assistente"},
						Hint:  zen7.Text{En: "The email address of the assistant in 7Targets.", Es: "La dirección de email del asistente en 7Targets.", Pt: "O endereço de email do assistente na 7Targets."},
					},
					{
						Name:  "scheduleName",
						Type:  "text",
						Label: zen7.Text{En: "Sequence name (optional)", Es: "Nombre de la secuencia (opcional)", Pt: "Nome da sequência (opcional)"},
						Hint:  zen7.Text{En: "Case sensitive. Empty: the assistant's default sequence.", Es: "Distingue mayúsculas. Vacío: la secuencia predeterminada del asistente.", Pt: "Diferencia maiúsculas. Vazio: a sequência padrão do assistente."},
					},
					{
						Name:  "source",
						Type:  "text",
						Label: zen7.Text{En: "Lead source (optional)", Es: "Origen del lead (opcional)", Pt: "Origem do lead (opcional)"},
						Hint:  zen7.Text{En: "Empty: the prospect's UTM source.", Es: "Vacío: el UTM source del prospecto.", Pt: "Vazio: o UTM source do prospect."},
					},
				},
			},
			{
				Name:  "behaviour",
				Title: zen7.Text{En: "Forwarding", Es: "Reenvío", Pt: "Encaminhamento"},
				Description: zen7.Text{
					En: "When prospects go to 7Targets and when their follow-up stops.",
					Es: "Cuándo van los prospectos a 7Targets y cuándo se detiene su seguimiento.",
					Pt: "Quando os prospects vão para a 7Targets e quando o acompanhamento para.",
				},
				Inputs: []FormInput{
					{
						Name:  "autoForward",
						Type:  "checkbox",
						Label: zen7.Text{En: "Forward every new prospect", Es: "Reenviar cada nuevo prospecto", Pt: "Encaminhar cada novo prospect"},
						Hint:  zen7.Text{En: "Off: agents forward prospects with the conversation button.", Es: "Desactivado: los agentes reenvían prospectos con el botón de la conversación.", Pt: "Desligado: os agentes encaminham prospects com o botão da conversa."},
					},
					{
						Name:  "stopFollowupOnClaim",
						Type:  "checkbox",
						Label: zen7.Text{En: "Stop the follow-up when an agent takes over", Es: "Detener el seguimiento cuando un agente toma el prospecto", Pt: "Parar o acompanhamento quando um agente assumir"},
						Hint:  zen7.Text{En: "Keeps the assistant from writing to a prospect an agent is already talking to.", Es: "Evita que el asistente escriba a un prospecto con el que ya habla un agente.", Pt: "Evita que o assistente escreva a um prospect com quem um agente já está falando."},
					},
				},
			},
		},
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
