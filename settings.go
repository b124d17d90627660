package zen7

import (
	"slices"
	"sync"
)

// Settings is what an account admin configures for an instance: plain typed fields, as the
// features read them (s.AssistantEmail). What each field is as a setting (its key, default,
// rule, secrecy and form input) is said once, in its SettingKeys entry; the form, the read view,
// the update parser, validation and storage all follow from that table.
type Settings struct {
	// ClientID and ClientSecret are the 7Targets OAuth2 client credentials.
	ClientID     string
	ClientSecret string
	// UserIdentifier is sent to 7Targets as the 7ts-user-identifier header.
	UserIdentifier string
	// AssistantEmail names the 7Targets assistant that takes the leads.
	AssistantEmail string
	// ScheduleName optionally picks the assistant's sequence (case sensitive).
	ScheduleName string
	// RoutingRules send some prospects to other assistants (ParseRoutingRules, Route).
	RoutingRules string
	// Source optionally overrides the lead's source in 7Targets.
	Source string
	// AutoForward forwards every new prospect without an agent's click.
	AutoForward bool
	// StopFollowupOnClaim stops the 7Targets sequence once an agent takes the prospect over.
	StopFollowupOnClaim bool
	// ExcludeEmails lists addresses and domains never forwarded to (ParseExclusions).
	ExcludeEmails string
	// BackfillDays, above 0, forwards once the unclaimed prospects created in that many past
	// days (the backfill package).
	BackfillDays int
	// ChatTonicCodename and ChatTonicToken name the Chat-Tonic bot account whose funnel
	// records are imported as Sales leads; both set turn the source on.
	ChatTonicCodename string
	ChatTonicToken    string
	// ChatTonicFunnels selects the funnels and funnel groups read (ParseFunnelSelection);
	// empty reads them all.
	ChatTonicFunnels string
	// ChatTonicCompletedOnly imports a record only once it reached its group's last stage.
	ChatTonicCompletedOnly bool
	// ChatTonicBackfillDays also imports records created that many days before the source was
	// configured.
	ChatTonicBackfillDays int
}

// SettingKind is the type of a setting's value, as JSON carries it and as it is stored.
type SettingKind int

// The setting kinds.
const (
	// SettingText is a string.
	SettingText SettingKind = iota + 1
	// SettingBool is true or false.
	SettingBool
	// SettingNumber is a whole number between the entry's Min and Max, a JSON number.
	SettingNumber
)

// SettingRule names the check a text setting's value must pass when it is changed. It is a
// code: the lifecycle package turns it into a validation and its message.
type SettingRule string

// The setting rules.
const (
	// RuleToken is visible ASCII without spaces, as OAuth2 client ids, secrets and header
	// values are.
	RuleToken SettingRule = "token"
	// RuleText is text without control characters, safe to show and to send on.
	RuleText SettingRule = "text"
	// RuleEmail is one email address.
	RuleEmail SettingRule = "email"
	// RuleExclusions is a list of email addresses and domains (ParseExclusions).
	RuleExclusions SettingRule = "exclusions"
	// RuleRouting is routing rules, one a line (ParseRoutingRules).
	RuleRouting SettingRule = "routing"
	// RuleCodename is a Chat-Tonic codename: letters, digits, '_' and '-'.
	RuleCodename SettingRule = "codename"
	// RuleFunnels is a Chat-Tonic funnel selection (ParseFunnelSelection).
	RuleFunnels SettingRule = "funnels"
)

// SettingKey describes one setting: everything the form, the read view, the update parser,
// validation and storage need to know about it. Adding a setting is adding a Settings field
// and its entry in SettingKeys; nothing else lists the settings.
type SettingKey struct {
	// Name is the setting's key: the form input's name, the JSON key Sales sends and reads,
	// and the key of the stored document.
	Name string
	// Secret settings are sealed at rest, read back as SecretMask, and kept when the mask or
	// an empty value is sent back. Only text settings are secret.
	Secret bool
	// Max is the longest text accepted, in characters; of a number setting, its largest
	// value.
	Max int
	// Min is the smallest value of a number setting.
	Min int
	// Rule is the check a text value must pass.
	Rule SettingRule
	// Section is the name of the form section the input shows in (lifecycle.SettingsForm).
	Section string
	// Input is the input's type in the Sales form schema: "text", "password", "checkbox" or
	// "number".
	Input string
	// Label and Hint are the input's localized texts.
	Label, Hint Text

	// field reads and writes the Settings field; its Go type is the setting's Kind, so that
	// an entry cannot say one type and hold another.
	field settingField
}

// settingField is a Settings field of one Go type.
type settingField interface {
	kind() SettingKind
	value(*Settings) any
	setDefault(*Settings)
	defaultValue() any
}

type textField struct {
	get func(*Settings) *string
	def string
}

func (f textField) kind() SettingKind      { return SettingText }
func (f textField) value(s *Settings) any  { return *f.get(s) }
func (f textField) setDefault(s *Settings) { *f.get(s) = f.def }
func (f textField) defaultValue() any      { return f.def }

type boolField struct {
	get func(*Settings) *bool
	def bool
}

func (f boolField) kind() SettingKind      { return SettingBool }
func (f boolField) value(s *Settings) any  { return *f.get(s) }
func (f boolField) setDefault(s *Settings) { *f.get(s) = f.def }
func (f boolField) defaultValue() any      { return f.def }

type numberField struct {
	get func(*Settings) *int
	def int
}

func (f numberField) kind() SettingKind      { return SettingNumber }
func (f numberField) value(s *Settings) any  { return *f.get(s) }
func (f numberField) setDefault(s *Settings) { *f.get(s) = f.def }
func (f numberField) defaultValue() any      { return f.def }

// textOf is the field of a text setting whose value on install is def.
func textOf(get func(*Settings) *string, def string) settingField {
	return textField{get: get, def: def}
}

// boolOf is the field of a bool setting whose value on install is def.
func boolOf(get func(*Settings) *bool, def bool) settingField {
	return boolField{get: get, def: def}
}

// numberOf is the field of a number setting whose value on install is def.
func numberOf(get func(*Settings) *int, def int) settingField {
	return numberField{get: get, def: def}
}

// Kind returns the type of the setting's value.
func (k SettingKey) Kind() SettingKind { return k.field.kind() }

// Default returns the setting's value on install: a string, a bool or an int, as Kind says.
func (k SettingKey) Default() any { return k.field.defaultValue() }

// Value returns the setting's value in s, secrets in the clear: a string, a bool or an int,
// as Kind says.
func (k SettingKey) Value(s Settings) any { return k.field.value(&s) }

// Text returns the field of a text setting in s, to read or write; nil for other kinds.
func (k SettingKey) Text(s *Settings) *string {
	if f, ok := k.field.(textField); ok {
		return f.get(s)
	}
	return nil
}

// Bool returns the field of a bool setting in s, to read or write; nil for other kinds.
func (k SettingKey) Bool(s *Settings) *bool {
	if f, ok := k.field.(boolField); ok {
		return f.get(s)
	}
	return nil
}

// Number returns the field of a number setting in s, to read or write; nil for other kinds.
func (k SettingKey) Number(s *Settings) *int {
	if f, ok := k.field.(numberField); ok {
		return f.get(s)
	}
	return nil
}

// settingKeys is the table of settings. Within a section the form shows its inputs in this
// order; the entries stay grouped by section, in the form's order, so the table reads like the
// form. It is a table with field accessors, rather than tags on Settings: tags carry only
// strings, not the localized form texts, and features keep reading plain fields by name.
var settingKeys = []SettingKey{
	{
		Name: "clientId", Max: 256, Rule: RuleToken,
		Section: "credentials", Input: "text",
		Label: Text{En: "Client ID", Es: "Client ID", Pt: "Client ID"},
		Hint:  Text{En: "The OAuth2 client id issued by 7Targets.", Es: "El client id OAuth2 emitido por 7Targets.", Pt: "O client id OAuth2 emitido pela 7Targets."},
		field: textOf(func(s *Settings) *string { return &s.ClientID }, ""),
	},
	{
		Name: "clientSecret", Secret: true, Max: 512, Rule: RuleToken,
		Section: "credentials", Input: "password",
		Label: Text{En: "Client secret", Es: "Client secret", Pt: "Client secret"},
		Hint:  Text{En: "Stored encrypted and never shown again.", Es: "Se guarda cifrado y no se vuelve a mostrar.", Pt: "Armazenado criptografado e nunca mais exibido."},
		field: textOf(func(s *Settings) *string { return &s.ClientSecret }, ""),
	},
	{
		Name: "userIdentifier", Max: 256, Rule: RuleToken,
		Section: "credentials", Input: "text",
		Label: Text{En: "User identifier", Es: "Identificador de usuario", Pt: "Identificador de usuário"},
		Hint:  Text{En: "The 7ts-user-identifier value from the 7Targets app.", Es: "El valor 7ts-user-identifier de la aplicación de 7Targets.", Pt: "O valor 7ts-user-identifier do aplicativo da 7Targets."},
		field: textOf(func(s *Settings) *string { return &s.UserIdentifier }, ""),
	},
	{
		Name: "assistantEmail", Max: 254, Rule: RuleEmail,
		Section: "assistant", Input: "text",
		Label: Text{En: "Assistant email", Es: "Email del asistente", Pt: "Email do assistente"},
		Hint:  Text{En: "The email address of the assistant in 7Targets.", Es: "La dirección de email del asistente en 7Targets.", Pt: "O endereço de email do assistente na 7Targets."},
		field: textOf(func(s *Settings) *string { return &s.AssistantEmail }, ""),
	},
	{
		Name: "scheduleName", Max: 200, Rule: RuleText,
		Section: "assistant", Input: "text",
		Label: Text{En: "Sequence name (optional)", Es: "Nombre de la secuencia (opcional)", Pt: "Nome da sequência (opcional)"},
		Hint:  Text{En: "Case sensitive. Empty: the assistant's default sequence.", Es: "Distingue mayúsculas. Vacío: la secuencia predeterminada del asistente.", Pt: "Diferencia maiúsculas. Vazio: a sequência padrão do assistente."},
		field: textOf(func(s *Settings) *string { return &s.ScheduleName }, ""),
	},
	{
		Name: "routingRules", Max: 20000, Rule: RuleRouting,
		Section: "assistant", Input: "textarea",
		Label: Text{En: "Routing rules (optional)", Es: "Reglas de asignación (opcional)", Pt: "Regras de roteamento (opcional)"},
		Hint: Text{
			En: "One rule a line: FIELD = VALUE -> ASSISTANT EMAIL, optionally | SEQUENCE NAME; ~ instead of = means contains; case is ignored; # starts a comment. Fields: group, category, utmSource, utmMedium, utmCampaign, provider. Example: utmSource = facebook -> maria@7targets.ai | Social leads. The first rule that matches wins; none: the assistant above.",
			Es: "Una regla por línea: CAMPO = VALOR -> EMAIL DEL ASISTENTE, opcionalmente | NOMBRE DE LA SECUENCIA; ~ en lugar de = significa contiene; no distingue mayúsculas; # inicia un comentario. Campos: group, category, utmSource, utmMedium, utmCampaign, provider. Ejemplo: utmSource = facebook -> maria@7targets.ai | Leads sociales. Gana la primera regla que coincide; si ninguna, el asistente de arriba.",
			Pt: "Uma regra por linha: CAMPO = VALOR -> EMAIL DO ASSISTENTE, opcionalmente | NOME DA SEQUÊNCIA; ~ em vez de = significa contém; maiúsculas são ignoradas; # inicia um comentário. Campos: group, category, utmSource, utmMedium, utmCampaign, provider. Exemplo: utmSource = facebook -> maria@7targets.ai | Leads sociais. Vale a primeira regra que corresponde; nenhuma: o assistente acima.",
		},
		field: textOf(func(s *Settings) *string { return &s.RoutingRules }, ""),
	},
	{
		Name: "source", Max: 200, Rule: RuleText,
		Section: "assistant", Input: "text",
		Label: Text{En: "Lead source (optional)", Es: "Origen del lead (opcional)", Pt: "Origem do lead (opcional)"},
		Hint:  Text{En: "Empty: the prospect's UTM source.", Es: "Vacío: el UTM source del prospecto.", Pt: "Vazio: o UTM source do prospect."},
		field: textOf(func(s *Settings) *string { return &s.Source }, ""),
	},
	{
		Name:    "autoForward",
		Section: "behaviour", Input: "checkbox",
		Label: Text{En: "Forward every new prospect", Es: "Reenviar cada nuevo prospecto", Pt: "Encaminhar cada novo prospect"},
		Hint:  Text{En: "Off: agents forward prospects with the conversation button.", Es: "Desactivado: los agentes reenvían prospectos con el botón de la conversación.", Pt: "Desligado: os agentes encaminham prospects com o botão da conversa."},
		field: boolOf(func(s *Settings) *bool { return &s.AutoForward }, true),
	},
	{
		Name:    "stopFollowupOnClaim",
		Section: "behaviour", Input: "checkbox",
		Label: Text{En: "Stop the follow-up when an agent takes over", Es: "Detener el seguimiento cuando un agente toma el prospecto", Pt: "Parar o acompanhamento quando um agente assumir"},
		Hint:  Text{En: "Keeps the assistant from writing to a prospect an agent is already talking to.", Es: "Evita que el asistente escriba a un prospecto con el que ya habla un agente.", Pt: "Evita que o assistente escreva a um prospect com quem um agente já está falando."},
		field: boolOf(func(s *Settings) *bool { return &s.StopFollowupOnClaim }, true),
	},
	{
		Name: "excludeEmails", Max: 20000, Rule: RuleExclusions,
		Section: "behaviour", Input: "text",
		Label: Text{En: "Never forward to (optional)", Es: "No reenviar nunca a (opcional)", Pt: "Nunca encaminhar para (opcional)"},
		Hint: Text{
			En: "Addresses and domains, separated by commas or spaces, e.g. ana@example.com, @competitor.com. Such prospects are recorded as excluded, never sent.",
			Es: "Direcciones y dominios, separados por comas o espacios, p. ej. ana@example.com, @competidor.com. Esos prospectos se registran como excluidos y nunca se envían.",
			Pt: "Endereços e domínios, separados por vírgulas ou espaços, p. ex. ana@example.com, @concorrente.com. Esses prospects são registrados como excluídos e nunca enviados.",
		},
		field: textOf(func(s *Settings) *string { return &s.ExcludeEmails }, ""),
	},
	{
		Name: "backfillDays", Min: 0, Max: MaxBackfillDays,
		Section: "behaviour", Input: "number",
		Label: Text{En: "Forward the waiting prospects of the last days", Es: "Reenviar los prospectos en espera de los últimos días", Pt: "Encaminhar os prospects em espera dos últimos dias"},
		Hint: Text{
			En: "0 to 31. Saving a number above 0 forwards, once, the unclaimed prospects created in that many past days; its progress shows in the report.",
			Es: "De 0 a 31. Guardar un número mayor que 0 reenvía, una vez, los prospectos sin reclamar creados en esa cantidad de días; su avance se ve en el informe.",
			Pt: "De 0 a 31. Salvar um número maior que 0 encaminha, uma vez, os prospects não reivindicados criados nesse número de dias; o andamento aparece no relatório.",
		},
		field: numberOf(func(s *Settings) *int { return &s.BackfillDays }, 0),
	},
	{
		Name: "chatTonicCodename", Max: 64, Rule: RuleCodename,
		Section: "chattonic", Input: "text",
		Label: Text{En: "Chat-Tonic codename (optional)", Es: "Codename de Chat-Tonic (opcional)", Pt: "Codename do Chat-Tonic (opcional)"},
		Hint: Text{
			En: "The codename of your Chat-Tonic bot account. With the token below, the leads your bots capture become Sales prospects.",
			Es: "El codename de su cuenta de bots de Chat-Tonic. Con el token de abajo, los leads que capturan sus bots se vuelven prospectos de Sales.",
			Pt: "O codename da sua conta de bots do Chat-Tonic. Com o token abaixo, os leads que seus bots capturam viram prospects do Sales.",
		},
		field: textOf(func(s *Settings) *string { return &s.ChatTonicCodename }, ""),
	},
	{
		Name: "chatTonicToken", Secret: true, Max: 2048, Rule: RuleToken,
		Section: "chattonic", Input: "password",
		Label: Text{En: "Chat-Tonic access token", Es: "Token de acceso de Chat-Tonic", Pt: "Token de acesso do Chat-Tonic"},
		Hint: Text{
			En: "Checked with Chat-Tonic before it is saved; stored encrypted and never shown again.",
			Es: "Se verifica con Chat-Tonic antes de guardarlo; se guarda cifrado y no se vuelve a mostrar.",
			Pt: "Verificado com o Chat-Tonic antes de ser salvo; armazenado criptografado e nunca mais exibido.",
		},
		field: textOf(func(s *Settings) *string { return &s.ChatTonicToken }, ""),
	},
	{
		Name: "chatTonicFunnels", Max: 5000, Rule: RuleFunnels,
		Section: "chattonic", Input: "textarea",
		Label: Text{En: "Funnels to import (optional)", Es: "Embudos a importar (opcional)", Pt: "Funis a importar (opcional)"},
		Hint: Text{
			En: "Funnel ids (sacarTarjeta) or funnel groups (sacarTarjeta/Sacar Tarjeta), separated by commas or lines. Empty: every group of every funnel.",
			Es: "Ids de embudo (sacarTarjeta) o grupos de embudo (sacarTarjeta/Sacar Tarjeta), separados por comas o líneas. Vacío: todos los grupos de todos los embudos.",
			Pt: "Ids de funil (sacarTarjeta) ou grupos de funil (sacarTarjeta/Sacar Tarjeta), separados por vírgulas ou linhas. Vazio: todos os grupos de todos os funis.",
		},
		field: textOf(func(s *Settings) *string { return &s.ChatTonicFunnels }, ""),
	},
	{
		Name:    "chatTonicCompletedOnly",
		Section: "chattonic", Input: "checkbox",
		Label: Text{En: "Import only completed records", Es: "Importar solo registros completos", Pt: "Importar apenas registros completos"},
		Hint: Text{
			En: "On: a record is imported once it reached its funnel group's last interaction (within a day of its creation).",
			Es: "Activado: un registro se importa cuando llega a la última interacción de su grupo de embudo (dentro del día de su creación).",
			Pt: "Ligado: um registro é importado quando chega à última interação do seu grupo de funil (dentro de um dia da criação).",
		},
		field: boolOf(func(s *Settings) *bool { return &s.ChatTonicCompletedOnly }, false),
	},
	{
		Name: "chatTonicBackfillDays", Min: 0, Max: MaxBackfillDays,
		Section: "chattonic", Input: "number",
		Label: Text{En: "Also import the records of the last days", Es: "Importar también los registros de los últimos días", Pt: "Importar também os registros dos últimos dias"},
		Hint: Text{
			En: "0 to 31: records created up to that many days before the source was configured are imported too.",
			Es: "De 0 a 31: también se importan los registros creados hasta esa cantidad de días antes de configurar la fuente.",
			Pt: "De 0 a 31: também são importados os registros criados até esse número de dias antes de a fonte ser configurada.",
		},
		field: numberOf(func(s *Settings) *int { return &s.ChatTonicBackfillDays }, 0),
	},
}

// MaxBackfillDays is the longest backfill window: Zenvia Sales lists prospects of at most 31
// days back.
const MaxBackfillDays = 31

// SettingKeys returns the table of settings, one entry per key, grouped by form section. The
// slice is a copy: callers cannot change what others read.
func SettingKeys() []SettingKey { return slices.Clone(settingKeys) }

var settingKeysByName = sync.OnceValue(func() map[string]SettingKey {
	m := make(map[string]SettingKey, len(settingKeys))
	for _, k := range settingKeys {
		m[k.Name] = k
	}
	return m
})

// LookupSettingKey returns the entry of the setting named name, if there is one.
func LookupSettingKey(name string) (SettingKey, bool) {
	k, ok := settingKeysByName()[name]
	return k, ok
}

// DefaultSettings are the settings of a newly installed instance.
func DefaultSettings() Settings {
	var s Settings
	for _, k := range settingKeys {
		k.field.setDefault(&s)
	}
	return s
}

// Complete reports whether the settings hold everything needed to forward leads.
func (s Settings) Complete() bool {
	return s.ClientID != "" && s.ClientSecret != "" && s.UserIdentifier != "" && s.AssistantEmail != ""
}

// SecretMask stands in for a stored secret when settings are read. Sent back unchanged in an
// update, it means "keep the stored secret".
const SecretMask = "********"

// View returns the settings as Zenvia Sales reads them: every key of the form, secrets masked
// (empty when none is stored, so that the form shows there is nothing to keep).
func (s Settings) View() map[string]any {
	v := make(map[string]any, len(settingKeys))
	for _, k := range settingKeys {
		value := k.Value(s)
		if k.Secret {
			value = ""
			if *k.Text(&s) != "" {
				value = SecretMask
			}
		}
		v[k.Name] = value
	}
	return v
}
