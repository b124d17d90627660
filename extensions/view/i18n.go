package view

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Lang is a page language: "en", "es" or "pt".
type Lang string

// The supported languages.
const (
	English    Lang = "en"
	Spanish    Lang = "es"
	Portuguese Lang = "pt"
)

// LangOf picks the page language from Sales' group.language (ISO 639-1, maybe with a region
// such as "pt-BR"); anything else is English.
func LangOf(s string) Lang {
	if len(s) >= 2 {
		switch Lang(toLower(s[:2])) {
		case Spanish:
			return Spanish
		case Portuguese:
			return Portuguese
		}
	}
	return English
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// text is one message in the three page languages. Messages with arguments are fmt formats;
// a message used without arguments is shown as written, so a lone "%" needs no escaping.
type text struct{ en, es, pt string }

// messages holds every string the pages show. Keys are grouped by where they appear; the
// error.* and notice.* keys are for the handlers to fill ErrorPage, ButtonPage.Notice and
// ButtonPage.ErrorMessage with.
var messages = map[string]text{
	// Shared.
	"app.name":         {"7Targets", "7Targets", "7Targets"},
	"count.total":      {"Processed", "Procesados", "Processados"},
	"count.forwarded":  {"Forwarded", "Reenviados", "Encaminhados"},
	"count.skipped":    {"Skipped", "Omitidos", "Não encaminhados"},
	"count.failed":     {"Failed", "Con error", "Com falha"},
	"col.day":          {"Day", "Día", "Dia"},
	"col.assistant":    {"Assistant", "Asistente", "Assistente"},
	"col.state":        {"State", "Estado", "Status"},
	"col.stage":        {"Stage", "Etapa", "Etapa"},
	"col.leads":        {"Leads", "Leads", "Leads"},
	"col.share":        {"Share", "Porcentaje", "Percentual"},
	"col.total":        {"Total", "Total", "Total"},
	"col.when":         {"When", "Cuándo", "Quando"},
	"col.prospect":     {"Prospect", "Prospecto", "Contato"},
	"col.reason":       {"Reason", "Motivo", "Motivo"},
	"col.status":       {"Status", "Estado", "Situação"},
	"col.action":       {"Action", "Acción", "Ação"},
	"table.show":       {"Show the numbers", "Ver los números", "Ver os números"},
	"prospect.unnamed": {"Unnamed prospect", "Prospecto sin nombre", "Contato sem nome"},
	"action.retry":     {"Retry", "Reintentar", "Tentar novamente"},
	"action.retry.label": {
		"Retry sending %s to 7Targets",
		"Reintentar el envío de %s a 7Targets",
		"Tentar novamente o envio de %s para a 7Targets",
	},
	"time.utc": {"%s UTC", "%s UTC", "%s UTC"},

	// Report page.
	"report.title": {"Leads forwarded to 7Targets", "Leads reenviados a 7Targets", "Leads encaminhados para a 7Targets"},
	"report.summary": {
		"Summary of the period", "Resumen del período", "Resumo do período",
	},
	"report.period":      {"%s – %s", "%s – %s", "%s – %s"},
	"range.today":        {"Today", "Hoy", "Hoje"},
	"range.yesterday":    {"Yesterday", "Ayer", "Ontem"},
	"range.last7":        {"Last 7 days", "Últimos 7 días", "Últimos 7 dias"},
	"range.last30":       {"Last 30 days", "Últimos 30 días", "Últimos 30 dias"},
	"range.this-month":   {"This month", "Este mes", "Este mês"},
	"range.last-month":   {"Last month", "Mes pasado", "Mês passado"},
	"range.custom":       {"Custom period", "Período personalizado", "Período personalizado"},
	"kpi.share":          {"%s of the total", "%s del total", "%s do total"},
	"kpi.total.note":     {"prospects in the period", "prospectos en el período", "contatos no período"},
	"report.daily.title": {"Per day", "Por día", "Por dia"},
	"report.daily.desc": {
		"Prospects processed each day, by outcome.",
		"Prospectos procesados cada día, según el resultado.",
		"Contatos processados a cada dia, por resultado.",
	},
	"report.assistants.title": {"By assistant", "Por asistente", "Por assistente"},
	"report.assistants.desc": {
		"The 7Targets assistant each prospect went to.",
		"El asistente de 7Targets al que se asignó cada prospecto.",
		"O assistente da 7Targets que recebeu cada contato.",
	},
	"report.assistants.none": {
		"No prospect was assigned to an assistant in this period.",
		"Ningún prospecto se asignó a un asistente en este período.",
		"Nenhum contato foi atribuído a um assistente neste período.",
	},
	"report.states.title": {"Lead states in 7Targets", "Estado de los leads en 7Targets", "Status dos leads na 7Targets"},
	"report.states.desc": {
		"Where the forwarded leads stand now.",
		"Dónde están ahora los leads reenviados.",
		"Onde os leads encaminhados estão agora.",
	},
	"report.states.none": {
		"No lead has been forwarded yet.",
		"Todavía no se reenvió ningún lead.",
		"Nenhum lead foi encaminhado ainda.",
	},
	"report.funnel.title": {"Conversion funnel", "Embudo de conversión", "Funil de conversão"},
	"report.funnel.desc": {
		"Leads that reached each stage or a later one, as a share of the first stage.",
		"Leads que alcanzaron cada etapa o una posterior, respecto de la primera etapa.",
		"Leads que chegaram a cada etapa ou a uma posterior, em relação à primeira etapa.",
	},
	"report.failures.title": {"Recent failures", "Errores recientes", "Falhas recentes"},
	"report.failures.desc": {
		"Prospects 7Targets refused, or that were given up on after repeated attempts. Retry once the cause is fixed.",
		"Prospectos que 7Targets rechazó o que se abandonaron tras varios intentos. Reinténtalo cuando la causa esté resuelta.",
		"Contatos que a 7Targets recusou ou que foram abandonados após várias tentativas. Tente novamente depois de corrigir a causa.",
	},
	"report.failures.none": {
		"No failures. Every prospect went through.",
		"Sin errores. Todos los prospectos se enviaron.",
		"Nenhuma falha. Todos os contatos foram enviados.",
	},
	"report.empty.title": {
		"Nothing forwarded in this period",
		"No se reenvió nada en este período",
		"Nada foi encaminhado neste período",
	},
	"report.empty.text": {
		"Prospects sent to 7Targets in this period will show up here. Try a longer period.",
		"Aquí verás los prospectos enviados a 7Targets en este período. Prueba con un período más largo.",
		"Os contatos enviados para a 7Targets neste período aparecerão aqui. Experimente um período maior.",
	},
	"report.error.title": {
		"The report could not be loaded",
		"No se pudo cargar el informe",
		"Não foi possível carregar o relatório",
	},
	"report.error.text": {
		"Try again in a few minutes. If it keeps happening, contact support.",
		"Vuelve a intentarlo en unos minutos. Si el problema continúa, contacta con soporte.",
		"Tente novamente em alguns minutos. Se o problema continuar, fale com o suporte.",
	},
	"failure.failed":   {"Refused", "Rechazado", "Recusado"},
	"failure.dead":     {"Gave up", "Abandonado", "Abandonado"},
	"failure.retrying": {"Retrying…", "Reintentando…", "Tentando novamente…"},

	// Charts.
	"chart.empty": {"No data in this period.", "Sin datos en este período.", "Sem dados neste período."},
	"chart.daily.label": {
		"Prospects processed per day, %s to %s",
		"Prospectos procesados por día, del %s al %s",
		"Contatos processados por dia, de %s a %s",
	},
	"chart.assistants.label": {
		"Prospects per 7Targets assistant",
		"Prospectos por asistente de 7Targets",
		"Contatos por assistente da 7Targets",
	},
	"chart.states.label": {
		"Forwarded leads per 7Targets state",
		"Leads reenviados por estado en 7Targets",
		"Leads encaminhados por status na 7Targets",
	},
	"chart.funnel.label": {
		"Conversion funnel of the forwarded leads",
		"Embudo de conversión de los leads reenviados",
		"Funil de conversão dos leads encaminhados",
	},

	// Conversation-button dialog.
	"button.title":  {"7Targets follow-up", "Seguimiento en 7Targets", "Acompanhamento na 7Targets"},
	"button.status": {"Status in 7Targets", "Estado en 7Targets", "Situação na 7Targets"},
	"button.contact": {
		"Contact details", "Datos de contacto", "Dados de contato",
	},
	"status.new":       {"Not forwarded", "No reenviado", "Não encaminhado"},
	"status.skipped":   {"Not forwarded", "No reenviado", "Não encaminhado"},
	"status.forwarded": {"Forwarded", "Reenviado", "Encaminhado"},
	"status.stopped":   {"Follow-up stopped", "Seguimiento detenido", "Acompanhamento interrompido"},
	"status.pending":   {"Sending…", "Enviando…", "Enviando…"},
	"status.failed":    {"Failed", "Con error", "Com falha"},
	"status.new.text": {
		"This prospect has not been sent to 7Targets.",
		"Este prospecto todavía no se envió a 7Targets.",
		"Este contato ainda não foi enviado para a 7Targets.",
	},
	"status.skipped.text": {
		"This prospect was not forwarded automatically.",
		"Este prospecto no se reenvió automáticamente.",
		"Este contato não foi encaminhado automaticamente.",
	},
	"status.forwarded.text": {
		"A 7Targets assistant is following up this prospect.",
		"Un asistente de 7Targets está haciendo el seguimiento de este prospecto.",
		"Um assistente da 7Targets está acompanhando este contato.",
	},
	"status.stopped.text": {
		"7Targets no longer writes to this prospect: an agent is in charge.",
		"7Targets ya no le escribe a este prospecto: lo atiende un agente.",
		"A 7Targets não escreve mais para este contato: um agente está cuidando dele.",
	},
	"pending.title": {
		"Being sent to 7Targets…",
		"Enviando a 7Targets…",
		"Enviando para a 7Targets…",
	},
	"pending.text": {
		"Reopen this dialog in a few seconds to see the result.",
		"Vuelve a abrir este diálogo en unos segundos para ver el resultado.",
		"Abra esta janela novamente em alguns segundos para ver o resultado.",
	},
	"lead.id":        {"7Targets lead", "Lead en 7Targets", "Lead na 7Targets"},
	"lead.state":     {"State", "Estado", "Status"},
	"lead.assistant": {"Assistant", "Asistente", "Assistente"},
	"lead.schedule":  {"Sequence", "Secuencia", "Sequência"},
	"lead.schedule.default": {
		"Assistant's default", "La del asistente", "Padrão do assistente",
	},
	"lead.next":      {"Next message", "Próximo mensaje", "Próxima mensagem"},
	"lead.next.none": {"None scheduled", "Ninguno programado", "Nenhuma agendada"},
	"lead.email":     {"Email", "Correo electrónico", "E-mail"},
	"lead.reason":    {"Reason", "Motivo", "Motivo"},
	"lead.lastError": {"Last error", "Último error", "Último erro"},
	"failed.title": {
		"The last attempt failed",
		"El último intento falló",
		"A última tentativa falhou",
	},
	"failed.retry.help": {
		"Fix the cause first (for example the prospect's email), then retry.",
		"Primero corrige la causa (por ejemplo, el correo del prospecto) y luego reintenta.",
		"Corrija a causa primeiro (por exemplo, o e-mail do contato) e depois tente novamente.",
	},
	"forward.title": {"Forward to 7Targets", "Reenviar a 7Targets", "Encaminhar para a 7Targets"},
	"forward.desc": {
		"A 7Targets AI assistant will write to the prospect and follow up until they answer.",
		"Un asistente de IA de 7Targets le escribirá al prospecto y hará el seguimiento hasta que responda.",
		"Um assistente de IA da 7Targets vai escrever para o contato e acompanhá-lo até que ele responda.",
	},
	"forward.submit":    {"Forward to 7Targets", "Reenviar a 7Targets", "Encaminhar para a 7Targets"},
	"forward.assistant": {"Assistant", "Asistente", "Assistente"},
	"forward.assistant.default": {
		"%s (default)", "%s (predeterminado)", "%s (padrão)",
	},
	"forward.assistants.error": {
		"The list of assistants could not be loaded from 7Targets, so the default assistant will be used.",
		"No se pudo obtener la lista de asistentes de 7Targets, así que se usará el predeterminado.",
		"Não foi possível carregar a lista de assistentes da 7Targets, então será usado o assistente padrão.",
	},
	"forward.schedule": {"Sequence", "Secuencia", "Sequência"},
	"forward.schedule.help": {
		"The sequence name exactly as in 7Targets. Leave it empty to use the assistant's default.",
		"El nombre de la secuencia tal como figura en 7Targets. Déjalo vacío para usar la del asistente.",
		"O nome da sequência exatamente como aparece na 7Targets. Deixe em branco para usar a padrão do assistente.",
	},
	"forward.email": {"Prospect's email", "Correo electrónico del prospecto", "E-mail do contato"},
	"forward.email.help": {
		"This prospect has no email in Zenvia Sales, and 7Targets needs one to write to them.",
		"Este prospecto no tiene correo en Zenvia Sales, y 7Targets lo necesita para escribirle.",
		"Este contato não tem e-mail no Zenvia Sales, e a 7Targets precisa de um para escrever para ele.",
	},
	"forward.email.using": {
		"7Targets will write to %s.",
		"7Targets le escribirá a %s.",
		"A 7Targets vai escrever para %s.",
	},
	"stop.submit": {"Stop follow-up", "Detener seguimiento", "Interromper acompanhamento"},
	"stop.help": {
		"Stop 7Targets' messages when you take the conversation over.",
		"Detén los mensajes de 7Targets cuando tomes la conversación.",
		"Interrompa as mensagens da 7Targets quando você assumir a conversa.",
	},
	"retry.submit": {"Retry", "Reintentar", "Tentar novamente"},

	// Notices after an action, for ButtonPage.Notice.
	"notice.forward": {
		"Done. 7Targets will have the prospect in a few seconds.",
		"Listo. 7Targets recibirá el prospecto en unos segundos.",
		"Pronto. A 7Targets vai receber o contato em alguns segundos.",
	},
	"notice.stop": {
		"Done. The follow-up will stop in a few seconds.",
		"Listo. El seguimiento se detendrá en unos segundos.",
		"Pronto. O acompanhamento será interrompido em alguns segundos.",
	},
	"notice.retry": {
		"Done. The prospect is being sent again.",
		"Listo. El prospecto se está enviando de nuevo.",
		"Pronto. O contato está sendo enviado novamente.",
	},

	// Error pages and form errors, for ErrorPage and ButtonPage.ErrorMessage / FieldErrors.
	"error.status":          {"Error %d", "Error %d", "Erro %d"},
	"error.signature.title": {"This link is not valid", "Este enlace no es válido", "Este link não é válido"},
	"error.signature.message": {
		"This link is not valid or has been changed. Open it again from Zenvia Sales.",
		"Este enlace no es válido o fue modificado. Vuelve a abrirlo desde Zenvia Sales.",
		"Este link não é válido ou foi alterado. Abra-o novamente pelo Zenvia Sales.",
	},
	"error.group.title": {"App not installed", "App no instalada", "App não instalado"},
	"error.group.message": {
		"This group has no 7Targets App installed.",
		"Este grupo no tiene instalada la App de 7Targets.",
		"Este grupo não tem o App da 7Targets instalado.",
	},
	"error.disabled.title": {"App disabled", "App desactivada", "App desativado"},
	"error.disabled.message": {
		"The 7Targets App is disabled for this group. An administrator can enable it in Zenvia Sales.",
		"La App de 7Targets está desactivada para este grupo. Un administrador puede activarla en Zenvia Sales.",
		"O App da 7Targets está desativado para este grupo. Um administrador pode ativá-lo no Zenvia Sales.",
	},
	"error.expired.title": {"This action has expired", "Esta acción venció", "Esta ação expirou"},
	"error.expired.message": {
		"This action has expired. Reopen the dialog and try again.",
		"Esta acción venció. Vuelve a abrir el diálogo e inténtalo de nuevo.",
		"Esta ação expirou. Abra a janela novamente e tente outra vez.",
	},
	"error.notfound.title": {"Page not found", "Página no encontrada", "Página não encontrada"},
	"error.notfound.message": {
		"This page does not exist. Open it again from Zenvia Sales.",
		"Esta página no existe. Vuelve a abrirla desde Zenvia Sales.",
		"Esta página não existe. Abra-a novamente pelo Zenvia Sales.",
	},
	"error.prospect.title": {"No prospect given", "Falta el prospecto", "Contato não informado"},
	"error.prospect.message": {
		"This dialog was opened without a prospect. Open it again from a conversation in Zenvia Sales.",
		"Este diálogo se abrió sin un prospecto. Vuelve a abrirlo desde una conversación en Zenvia Sales.",
		"Esta janela foi aberta sem um contato. Abra-a novamente a partir de uma conversa no Zenvia Sales.",
	},
	"error.action.title": {"This action has expired", "Esta acción venció", "Esta ação expirou"},
	"error.action.message": {
		"This action has expired or was already used. Reopen the dialog and try again.",
		"Esta acción venció o ya se usó. Vuelve a abrir el diálogo e inténtalo de nuevo.",
		"Esta ação expirou ou já foi usada. Abra a janela novamente e tente outra vez.",
	},
	"action.done.title": {"Done", "Listo", "Pronto"},
	"action.done.message": {
		"Your request was received and will reach 7Targets in a few seconds. You can close this window.",
		"Recibimos tu pedido; llegará a 7Targets en unos segundos. Ya puedes cerrar esta ventana.",
		"Recebemos sua solicitação, que chegará à 7Targets em alguns segundos. Você já pode fechar esta janela.",
	},
	"report.error.load": {
		"The data of this period could not be read.",
		"No se pudieron leer los datos de este período.",
		"Não foi possível ler os dados deste período.",
	},
	"button.error.load": {
		"What the App knows about this prospect could not be read, so this may be incomplete.",
		"No se pudo leer lo que la App sabe de este prospecto, así que la información puede estar incompleta.",
		"Não foi possível ler o que o App sabe sobre este contato, então as informações podem estar incompletas.",
	},
	"button.error.email": {
		"Enter a valid email address, such as name@example.com.",
		"Escribe un correo electrónico válido, como nombre@ejemplo.com.",
		"Digite um e-mail válido, como nome@exemplo.com.",
	},
	"button.error.email.required": {
		"Enter the prospect's email address.",
		"Escribe el correo electrónico del prospecto.",
		"Digite o e-mail do contato.",
	},
	"button.error.assistant": {
		"Choose one of the listed assistants.",
		"Elige uno de los asistentes de la lista.",
		"Escolha um dos assistentes da lista.",
	},
	"button.error.schedule": {
		"The sequence name is too long: 200 characters at most.",
		"El nombre de la secuencia es demasiado largo: 200 caracteres como máximo.",
		"O nome da sequência é longo demais: no máximo 200 caracteres.",
	},
	"error.generic.title": {"Something went wrong", "Algo salió mal", "Algo deu errado"},
	"error.generic.message": {
		"Please try again in a few minutes. If it keeps happening, contact support.",
		"Vuelve a intentarlo en unos minutos. Si el problema continúa, contacta con soporte.",
		"Tente novamente em alguns minutos. Se o problema continuar, fale com o suporte.",
	},
	"error.email.required": {
		"Enter the prospect's email address.",
		"Escribe el correo electrónico del prospecto.",
		"Digite o e-mail do contato.",
	},
	"error.email.invalid": {
		"Enter a valid email address, such as name@example.com.",
		"Escribe un correo electrónico válido, como nombre@ejemplo.com.",
		"Digite um e-mail válido, como nome@exemplo.com.",
	},
	"error.assistant.invalid": {
		"Choose one of the listed assistants.",
		"Elige uno de los asistentes de la lista.",
		"Escolha um dos assistentes da lista.",
	},

	// 7Targets lead states. Others are shown as 7Targets names them.
	"state.cold":    {"Cold", "Frío", "Frio"},
	"state.warm":    {"Warm", "Tibio", "Morno"},
	"state.hot":     {"Hot", "Caliente", "Quente"},
	"state.stopped": {"Stopped", "Detenido", "Interrompido"},

	// Reasons the forwarding worker records (see ReasonText).
	"reason.superseded": {
		"Superseded by a newer update of the prospect",
		"Reemplazado por una actualización más reciente del prospecto",
		"Substituído por uma atualização mais recente do contato",
	},
	"reason.claimedFirst": {
		"An agent took the prospect over before it was forwarded",
		"Un agente tomó el prospecto antes de que se reenviara",
		"Um agente assumiu o contato antes que ele fosse encaminhado",
	},
	"reason.autoForwardOff": {
		"Automatic forwarding is off",
		"El reenvío automático está desactivado",
		"O encaminhamento automático está desativado",
	},
	"reason.noEmail": {
		"The prospect has no email address",
		"El prospecto no tiene correo electrónico",
		"O contato não tem e-mail",
	},
	"reason.noChange": {
		"Nothing changed for 7Targets",
		"No hubo cambios para 7Targets",
		"Nada mudou para a 7Targets",
	},
	"reason.notForwarded": {
		"The prospect was never forwarded",
		"El prospecto nunca se reenvió",
		"O contato nunca foi encaminhado",
	},
	"reason.alreadyStopped": {
		"The follow-up was already stopped",
		"El seguimiento ya estaba detenido",
		"O acompanhamento já estava interrompido",
	},
	"reason.stopOff": {
		"Stopping the follow-up when an agent takes the prospect over is off",
		"Detener el seguimiento cuando un agente toma el prospecto está desactivado",
		"Interromper o acompanhamento quando um agente assume o contato está desativado",
	},
	"reason.instanceGone": {
		"The App is no longer installed",
		"La App ya no está instalada",
		"O App não está mais instalado",
	},
	"reason.instanceDisabled": {
		"The App is disabled",
		"La App está desactivada",
		"O App está desativado",
	},
	"reason.instanceUninstalled": {
		"The App was uninstalled",
		"La App fue desinstalada",
		"O App foi desinstalado",
	},
	"reason.instanceState": {
		"The App is %s",
		"La App está en estado «%s»",
		"O App está no estado “%s”",
	},
	"reason.settingsIncomplete": {
		"The App's 7Targets settings are incomplete",
		"La configuración de 7Targets de la App está incompleta",
		"As configurações da 7Targets no App estão incompletas",
	},
	"reason.prospectGone": {
		"The prospect no longer exists in Zenvia Sales",
		"El prospecto ya no existe en Zenvia Sales",
		"O contato não existe mais no Zenvia Sales",
	},
	"reason.lookupFailed": {
		"Could not look the prospect up in Zenvia Sales: %s",
		"No se pudo consultar el prospecto en Zenvia Sales: %s",
		"Não foi possível consultar o contato no Zenvia Sales: %s",
	},
	"reason.refused": {
		"7Targets refused it (HTTP %s): %s",
		"7Targets lo rechazó (HTTP %s): %s",
		"A 7Targets recusou (HTTP %s): %s",
	},
	"state.forwarded": {"Forwarded", "Reenviados", "Encaminhados"},
	"reason.gaveUp": {
		"Gave up after %s: %s",
		"Se abandonó tras %s: %s",
		"Abandonado após %s: %s",
	},
	"duration.day":     {"1 day", "1 día", "1 dia"},
	"duration.days":    {"%d days", "%d días", "%d dias"},
	"duration.hour":    {"1 hour", "1 hora", "1 hora"},
	"duration.hours":   {"%d hours", "%d horas", "%d horas"},
	"duration.minutes": {"%d minutes", "%d minutos", "%d minutos"},

	// Locale data: dates and numbers.
	"date.day":     {"%[2]s %[1]d", "%[1]d %[2]s", "%[1]d %[2]s"},
	"date.full":    {"%[2]s %[1]d, %[3]d", "%[1]d %[2]s %[3]d", "%[1]d %[2]s %[3]d"},
	"date.time":    {"%s, %s", "%s, %s", "%s, %s"},
	"num.group":    {",", ".", "."},
	"num.decimal":  {".", ",", ","},
	"num.percent":  {"%s%%", "%s %%", "%s%%"},
	"num.thousand": {"%sk", "%s mil", "%s mil"},
	"num.million":  {"%sM", "%s M", "%s mi"},
	"num.billion":  {"%sB", "%s mil M", "%s bi"},
	"month.1":      {"Jan", "ene", "jan"},
	"month.2":      {"Feb", "feb", "fev"},
	"month.3":      {"Mar", "mar", "mar"},
	"month.4":      {"Apr", "abr", "abr"},
	"month.5":      {"May", "may", "mai"},
	"month.6":      {"Jun", "jun", "jun"},
	"month.7":      {"Jul", "jul", "jul"},
	"month.8":      {"Aug", "ago", "ago"},
	"month.9":      {"Sep", "sept", "set"},
	"month.10":     {"Oct", "oct", "out"},
	"month.11":     {"Nov", "nov", "nov"},
	"month.12":     {"Dec", "dic", "dez"},
}

// Langs are the page languages, English first.
var Langs = []Lang{English, Spanish, Portuguese}

// pageLang maps any Lang to a supported one: unknown values are English.
func pageLang(l Lang) Lang {
	switch l {
	case Spanish, Portuguese:
		return l
	}
	return English
}

// T returns the message key in lang (English for an unknown language), formatted with args
// as by fmt.Sprintf when there are any. An unknown key comes back as is, so a missing
// translation shows up on the page rather than as an empty space.
func T(lang Lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m.en
	switch pageLang(lang) {
	case Spanish:
		s = m.es
	case Portuguese:
		s = m.pt
	}
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s
}

// Keys returns every message key, sorted.
func Keys() []string {
	keys := make([]string, 0, len(messages))
	for k := range messages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// HasKey reports whether key is a message key.
func HasKey(key string) bool {
	_, ok := messages[key]
	return ok
}

// ReasonText translates a skip or failure reason by its code. The variable part of a reason
// (a state, an upstream message, an error) is shown as recorded; a reason of no known code is
// shown in its recorded words.
func ReasonText(lang Lang, r zen7.Reason) string {
	switch r.Code {
	case "":
		return ""
	case zen7.ReasonInstanceState:
		switch zen7.State(r.Detail) {
		case zen7.StateDisabled:
			return T(lang, "reason.instanceDisabled")
		case zen7.StateUninstalled:
			return T(lang, "reason.instanceUninstalled")
		}
		return T(lang, "reason.instanceState", r.Detail)
	case zen7.ReasonLookupFailed:
		return T(lang, "reason.lookupFailed", r.Detail)
	case zen7.ReasonRefused:
		return T(lang, "reason.refused", strconv.Itoa(r.Status), r.Detail)
	case zen7.ReasonGaveUp:
		return T(lang, "reason.gaveUp", durationText(lang, r.After), r.Detail)
	case zen7.ReasonOther:
		return r.Detail
	}
	if key := "reason." + string(r.Code); HasKey(key) {
		return T(lang, key)
	}
	return r.String()
}

// durationText renders a duration in whole days, hours or minutes when it is one, and as Go
// writes it ("90m30s") otherwise.
func durationText(lang Lang, d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	day := 24 * time.Hour
	switch {
	case d%day == 0 && d == day:
		return T(lang, "duration.day")
	case d%day == 0:
		return T(lang, "duration.days", int64(d/day))
	case d%time.Hour == 0 && d == time.Hour:
		return T(lang, "duration.hour")
	case d%time.Hour == 0:
		return T(lang, "duration.hours", int64(d/time.Hour))
	case d%time.Minute == 0:
		return T(lang, "duration.minutes", int64(d/time.Minute))
	}
	return d.String()
}

// StateText names a 7Targets lead state: Cold, Warm, Hot and Stopped are translated, any
// other state is shown as 7Targets sends it.
func StateText(lang Lang, state string) string {
	if k := stateKey(state); k != "" {
		return T(lang, "state."+k)
	}
	return state
}

// stateKey is the lower-case name of a known 7Targets state, or "".
func stateKey(state string) string {
	switch k := strings.ToLower(strings.TrimSpace(state)); k {
	case "cold", "warm", "hot", "stopped", "forwarded":
		return k
	}
	return ""
}

// RangeText names one of Sales' report ranges ("last7", "this-month", …), or returns "" for
// a name it does not know.
func RangeText(lang Lang, name string) string {
	key := "range." + name
	if !HasKey(key) {
		return ""
	}
	return T(lang, key)
}

// formatNumber writes n with the language's thousands separator: 1,234,567 or 1.234.567.
func formatNumber(lang Lang, n int) string {
	return groupDigits(strconv.FormatInt(int64(n), 10), T(lang, "num.group"))
}

func groupDigits(s, sep string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatCompact writes a count in few characters for chart axes: 950, 12k, 1.5M (English).
func formatCompact(lang Lang, v float64) string {
	switch a := math.Abs(v); {
	case a < 10000:
		return formatNumber(lang, int(math.Round(v)))
	case a < 1e6:
		return T(lang, "num.thousand", formatDecimal(lang, v/1e3))
	case a < 1e9:
		return T(lang, "num.million", formatDecimal(lang, v/1e6))
	default:
		return T(lang, "num.billion", formatDecimal(lang, v/1e9))
	}
}

// formatDecimal writes v with at most one decimal, none when it is whole or 100 and more.
func formatDecimal(lang Lang, v float64) string {
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		return formatNumber(lang, int(math.Round(v)))
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return strings.Replace(s, ".", T(lang, "num.decimal"), 1)
}

// formatPercent writes a whole percentage: 38% (English, Portuguese) or 38 % (Spanish).
func formatPercent(lang Lang, p int) string {
	return T(lang, "num.percent", formatNumber(lang, p))
}

// formatShare writes part as a percentage of whole, rounded down, with "<1%" for a non-zero
// part too small to show and "0%" when whole is zero.
func formatShare(lang Lang, part, whole int) string {
	if whole <= 0 || part <= 0 {
		return formatPercent(lang, 0)
	}
	p := int(float64(part) * 100 / float64(whole))
	if p == 0 {
		return "<" + formatPercent(lang, 1)
	}
	return formatPercent(lang, p)
}

// formatDay writes a short day for chart labels: "Mar 3" or "3 mar".
func formatDay(lang Lang, t time.Time) string {
	return T(lang, "date.day", t.Day(), T(lang, "month."+strconv.Itoa(int(t.Month()))))
}

// formatDate writes a date: "Mar 3, 2026" or "3 mar 2026".
func formatDate(lang Lang, t time.Time) string {
	return T(lang, "date.full", t.Day(), T(lang, "month."+strconv.Itoa(int(t.Month()))), t.Year())
}

// formatDateTime writes a UTC date and time: "Mar 3, 2026, 14:05 UTC". The pages' script
// rewrites it in the viewer's time zone where it can.
func formatDateTime(lang Lang, t time.Time) string {
	t = t.UTC()
	return T(lang, "time.utc", T(lang, "date.time", formatDate(lang, t), t.Format("15:04")))
}

// formatPeriod writes the report's period: one date, or "first – last".
func formatPeriod(lang Lang, start, end time.Time) string {
	switch {
	case start.IsZero() && end.IsZero():
		return ""
	case start.IsZero() || sameDay(start, end):
		return formatDate(lang, end)
	case end.IsZero():
		return formatDate(lang, start)
	}
	return T(lang, "report.period", formatDate(lang, start), formatDate(lang, end))
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
