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

// messages holds every string the pages show, each in the three page languages as the
// zen7.Text Sales takes localized strings in. Messages with arguments are fmt formats; a
// message used without arguments is shown as written, so a lone "%" needs no escaping. Keys
// are grouped by where they appear; the error.* and notice.* keys are for the handlers to fill
// ErrorPage, ButtonPage.Notice and ButtonPage.ErrorMessage with.
var messages = map[string]zen7.Text{
	// Shared.
	"app.name":         {En: "7Targets", Es: "7Targets", Pt: "7Targets"},
	"count.total":      {En: "Processed", Es: "Procesados", Pt: "Processados"},
	"count.forwarded":  {En: "Forwarded", Es: "Reenviados", Pt: "Encaminhados"},
	"count.skipped":    {En: "Skipped", Es: "Omitidos", Pt: "Não encaminhados"},
	"count.failed":     {En: "Failed", Es: "Con error", Pt: "Com falha"},
	"col.day":          {En: "Day", Es: "Día", Pt: "Dia"},
	"col.assistant":    {En: "Assistant", Es: "Asistente", Pt: "Assistente"},
	"col.state":        {En: "State", Es: "Estado", Pt: "Status"},
	"col.stage":        {En: "Stage", Es: "Etapa", Pt: "Etapa"},
	"col.leads":        {En: "Leads", Es: "Leads", Pt: "Leads"},
	"col.share":        {En: "Share", Es: "Porcentaje", Pt: "Percentual"},
	"col.total":        {En: "Total", Es: "Total", Pt: "Total"},
	"col.when":         {En: "When", Es: "Cuándo", Pt: "Quando"},
	"col.prospect":     {En: "Prospect", Es: "Prospecto", Pt: "Contato"},
	"col.reason":       {En: "Reason", Es: "Motivo", Pt: "Motivo"},
	"col.status":       {En: "Status", Es: "Estado", Pt: "Situação"},
	"col.action":       {En: "Action", Es: "Acción", Pt: "Ação"},
	"table.show":       {En: "Show the numbers", Es: "Ver los números", Pt: "Ver os números"},
	"prospect.unnamed": {En: "Unnamed prospect", Es: "Prospecto sin nombre", Pt: "Contato sem nome"},
	"action.retry":     {En: "Retry", Es: "Reintentar", Pt: "Tentar novamente"},
	"action.retry.label": {
		En: "Retry sending %s to 7Targets",
		Es: "Reintentar el envío de %s a 7Targets",
		Pt: "Tentar novamente o envio de %s para a 7Targets",
	},
	"time.utc": {En: "%s UTC", Es: "%s UTC", Pt: "%s UTC"},

	// Report page.
	"report.title": {En: "Leads forwarded to 7Targets", Es: "Leads reenviados a 7Targets", Pt: "Leads encaminhados para a 7Targets"},
	"report.summary": {
		En: "Summary of the period", Es: "Resumen del período", Pt: "Resumo do período",
	},
	"report.period":      {En: "%s – %s", Es: "%s – %s", Pt: "%s – %s"},
	"range.today":        {En: "Today", Es: "Hoy", Pt: "Hoje"},
	"range.yesterday":    {En: "Yesterday", Es: "Ayer", Pt: "Ontem"},
	"range.last7":        {En: "Last 7 days", Es: "Últimos 7 días", Pt: "Últimos 7 dias"},
	"range.last30":       {En: "Last 30 days", Es: "Últimos 30 días", Pt: "Últimos 30 dias"},
	"range.this-month":   {En: "This month", Es: "Este mes", Pt: "Este mês"},
	"range.last-month":   {En: "Last month", Es: "Mes pasado", Pt: "Mês passado"},
	"range.custom":       {En: "Custom period", Es: "Período personalizado", Pt: "Período personalizado"},
	"kpi.share":          {En: "%s of the total", Es: "%s del total", Pt: "%s do total"},
	"kpi.total.note":     {En: "prospects in the period", Es: "prospectos en el período", Pt: "contatos no período"},
	"report.daily.title": {En: "Per day", Es: "Por día", Pt: "Por dia"},
	"report.daily.desc": {
		En: "Prospects processed each day, by outcome.",
		Es: "Prospectos procesados cada día, según el resultado.",
		Pt: "Contatos processados a cada dia, por resultado.",
	},
	"report.assistants.title": {En: "By assistant", Es: "Por asistente", Pt: "Por assistente"},
	"report.assistants.desc": {
		En: "The 7Targets assistant each prospect went to.",
		Es: "El asistente de 7Targets al que se asignó cada prospecto.",
		Pt: "O assistente da 7Targets que recebeu cada contato.",
	},
	"report.assistants.none": {
		En: "No prospect was assigned to an assistant in this period.",
		Es: "Ningún prospecto se asignó a un asistente en este período.",
		Pt: "Nenhum contato foi atribuído a um assistente neste período.",
	},
	"report.states.title": {En: "Lead states in 7Targets", Es: "Estado de los leads en 7Targets", Pt: "Status dos leads na 7Targets"},
	"report.states.desc": {
		En: "Where the forwarded leads stand now.",
		Es: "Dónde están ahora los leads reenviados.",
		Pt: "Onde os leads encaminhados estão agora.",
	},
	"report.states.none": {
		En: "No lead has been forwarded yet.",
		Es: "Todavía no se reenvió ningún lead.",
		Pt: "Nenhum lead foi encaminhado ainda.",
	},
	"report.funnel.title": {En: "Conversion funnel", Es: "Embudo de conversión", Pt: "Funil de conversão"},
	"report.funnel.desc": {
		En: "Leads that reached each stage or a later one, as a share of the first stage.",
		Es: "Leads que alcanzaron cada etapa o una posterior, respecto de la primera etapa.",
		Pt: "Leads que chegaram a cada etapa ou a uma posterior, em relação à primeira etapa.",
	},
	"report.failures.title": {En: "Recent failures", Es: "Errores recientes", Pt: "Falhas recentes"},
	"report.failures.desc": {
		En: "Prospects 7Targets refused, or that were given up on after repeated attempts. Retry once the cause is fixed.",
		Es: "Prospectos que 7Targets rechazó o que se abandonaron tras varios intentos. Reinténtalo cuando la causa esté resuelta.",
		Pt: "Contatos que a 7Targets recusou ou que foram abandonados após várias tentativas. Tente novamente depois de corrigir a causa.",
	},
	"report.failures.none": {
		En: "No failures. Every prospect went through.",
		Es: "Sin errores. Todos los prospectos se enviaron.",
		Pt: "Nenhuma falha. Todos os contatos foram enviados.",
	},
	"report.empty.title": {
		En: "Nothing forwarded in this period",
		Es: "No se reenvió nada en este período",
		Pt: "Nada foi encaminhado neste período",
	},
	"report.empty.text": {
		En: "Prospects sent to 7Targets in this period will show up here. Try a longer period.",
		Es: "Aquí verás los prospectos enviados a 7Targets en este período. Prueba con un período más largo.",
		Pt: "Os contatos enviados para a 7Targets neste período aparecerão aqui. Experimente um período maior.",
	},
	"report.error.title": {
		En: "The report could not be loaded",
		Es: "No se pudo cargar el informe",
		Pt: "Não foi possível carregar o relatório",
	},
	"report.error.text": {
		En: "Try again in a few minutes. If it keeps happening, contact support.",
		Es: "Vuelve a intentarlo en unos minutos. Si el problema continúa, contacta con soporte.",
		Pt: "Tente novamente em alguns minutos. Se o problema continuar, fale com o suporte.",
	},
	"failure.failed":   {En: "Refused", Es: "Rechazado", Pt: "Recusado"},
	"failure.dead":     {En: "Gave up", Es: "Abandonado", Pt: "Abandonado"},
	"failure.retrying": {En: "Retrying…", Es: "Reintentando…", Pt: "Tentando novamente…"},

	// Charts.
	"chart.empty": {En: "No data in this period.", Es: "Sin datos en este período.", Pt: "Sem dados neste período."},
	"chart.daily.label": {
		En: "Prospects processed per day, %s to %s",
		Es: "Prospectos procesados por día, del %s al %s",
		Pt: "Contatos processados por dia, de %s a %s",
	},
	"chart.assistants.label": {
		En: "Prospects per 7Targets assistant",
		Es: "Prospectos por asistente de 7Targets",
		Pt: "Contatos por assistente da 7Targets",
	},
	"chart.states.label": {
		En: "Forwarded leads per 7Targets state",
		Es: "Leads reenviados por estado en 7Targets",
		Pt: "Leads encaminhados por status na 7Targets",
	},
	"chart.funnel.label": {
		En: "Conversion funnel of the forwarded leads",
		Es: "Embudo de conversión de los leads reenviados",
		Pt: "Funil de conversão dos leads encaminhados",
	},

	// Conversation-button dialog.
	"button.title":  {En: "7Targets follow-up", Es: "Seguimiento en 7Targets", Pt: "Acompanhamento na 7Targets"},
	"button.status": {En: "Status in 7Targets", Es: "Estado en 7Targets", Pt: "Situação na 7Targets"},
	"button.contact": {
		En: "Contact details", Es: "Datos de contacto", Pt: "Dados de contato",
	},
	"status.new":       {En: "Not forwarded", Es: "No reenviado", Pt: "Não encaminhado"},
	"status.skipped":   {En: "Not forwarded", Es: "No reenviado", Pt: "Não encaminhado"},
	"status.forwarded": {En: "Forwarded", Es: "Reenviado", Pt: "Encaminhado"},
	"status.stopped":   {En: "Follow-up stopped", Es: "Seguimiento detenido", Pt: "Acompanhamento interrompido"},
	"status.pending":   {En: "Sending…", Es: "Enviando…", Pt: "Enviando…"},
	"status.failed":    {En: "Failed", Es: "Con error", Pt: "Com falha"},
	"status.new.text": {
		En: "This prospect has not been sent to 7Targets.",
		Es: "Este prospecto todavía no se envió a 7Targets.",
		Pt: "Este contato ainda não foi enviado para a 7Targets.",
	},
	"status.skipped.text": {
		En: "This prospect was not forwarded automatically.",
		Es: "Este prospecto no se reenvió automáticamente.",
		Pt: "Este contato não foi encaminhado automaticamente.",
	},
	"status.forwarded.text": {
		En: "A 7Targets assistant is following up this prospect.",
		Es: "Un asistente de 7Targets está haciendo el seguimiento de este prospecto.",
		Pt: "Um assistente da 7Targets está acompanhando este contato.",
	},
	"status.stopped.text": {
		En: "7Targets no longer writes to this prospect: an agent is in charge.",
		Es: "7Targets ya no le escribe a este prospecto: lo atiende un agente.",
		Pt: "A 7Targets não escreve mais para este contato: um agente está cuidando dele.",
	},
	"pending.title": {
		En: "Being sent to 7Targets…",
		Es: "Enviando a 7Targets…",
		Pt: "Enviando para a 7Targets…",
	},
	"pending.text": {
		En: "Reopen this dialog in a few seconds to see the result.",
		Es: "Vuelve a abrir este diálogo en unos segundos para ver el resultado.",
		Pt: "Abra esta janela novamente em alguns segundos para ver o resultado.",
	},
	"lead.id":        {En: "7Targets lead", Es: "Lead en 7Targets", Pt: "Lead na 7Targets"},
	"lead.state":     {En: "State", Es: "Estado", Pt: "Status"},
	"lead.assistant": {En: "Assistant", Es: "Asistente", Pt: "Assistente"},
	"lead.schedule":  {En: "Sequence", Es: "Secuencia", Pt: "Sequência"},
	"lead.schedule.default": {
		En: "Assistant's default", Es: "La del asistente", Pt: "Padrão do assistente",
	},
	"lead.next":      {En: "Next message", Es: "Próximo mensaje", Pt: "Próxima mensagem"},
	"lead.next.none": {En: "None scheduled", Es: "Ninguno programado", Pt: "Nenhuma agendada"},
	"lead.email":     {En: "Email", Es: "Correo electrónico", Pt: "E-mail"},
	"lead.reason":    {En: "Reason", Es: "Motivo", Pt: "Motivo"},
	"lead.lastError": {En: "Last error", Es: "Último error", Pt: "Último erro"},
	"lead.route":     {En: "Why this assistant", Es: "Por qué este asistente", Pt: "Por que este assistente"},
	"route.default": {
		En: "The default assistant of the settings", Es: "El asistente predeterminado de la configuración", Pt: "O assistente padrão das configurações",
	},
	"route.rule": {
		En: "Routing rule “%s”", Es: "Regla de asignación «%s»", Pt: "Regra de roteamento “%s”",
	},
	"route.agent": {
		En: "Chosen by the agent who forwarded it", Es: "Elegido por el agente que lo reenvió", Pt: "Escolhido pelo agente que o encaminhou",
	},
	"forward.route": {
		En: "Preselected: %s.", Es: "Preseleccionado: %s.", Pt: "Pré-selecionado: %s.",
	},
	"failed.title": {
		En: "The last attempt failed",
		Es: "El último intento falló",
		Pt: "A última tentativa falhou",
	},
	"failed.retry.help": {
		En: "Fix the cause first (for example the prospect's email), then retry.",
		Es: "Primero corrige la causa (por ejemplo, el correo del prospecto) y luego reintenta.",
		Pt: "Corrija a causa primeiro (por exemplo, o e-mail do contato) e depois tente novamente.",
	},
	"forward.title": {En: "Forward to 7Targets", Es: "Reenviar a 7Targets", Pt: "Encaminhar para a 7Targets"},
	"forward.desc": {
		En: "A 7Targets AI assistant will write to the prospect and follow up until they answer.",
		Es: "Un asistente de IA de 7Targets le escribirá al prospecto y hará el seguimiento hasta que responda.",
		Pt: "Um assistente de IA da 7Targets vai escrever para o contato e acompanhá-lo até que ele responda.",
	},
	"forward.submit":    {En: "Forward to 7Targets", Es: "Reenviar a 7Targets", Pt: "Encaminhar para a 7Targets"},
	"forward.assistant": {En: "Assistant", Es: "Asistente", Pt: "Assistente"},
	"forward.assistant.default": {
		En: "%s (default)", Es: "%s (predeterminado)", Pt: "%s (padrão)",
	},
	"forward.assistants.error": {
		En: "The list of assistants could not be loaded from 7Targets, so the default assistant will be used.",
		Es: "No se pudo obtener la lista de asistentes de 7Targets, así que se usará el predeterminado.",
		Pt: "Não foi possível carregar a lista de assistentes da 7Targets, então será usado o assistente padrão.",
	},
	"forward.schedule": {En: "Sequence", Es: "Secuencia", Pt: "Sequência"},
	"forward.schedule.help": {
		En: "The sequence name exactly as in 7Targets. Leave it empty to use the assistant's default.",
		Es: "El nombre de la secuencia tal como figura en 7Targets. Déjalo vacío para usar la del asistente.",
		Pt: "O nome da sequência exatamente como aparece na 7Targets. Deixe em branco para usar a padrão do assistente.",
	},
	"forward.email": {En: "Prospect's email", Es: "Correo electrónico del prospecto", Pt: "E-mail do contato"},
	"forward.email.help": {
		En: "This prospect has no email in Zenvia Sales, and 7Targets needs one to write to them.",
		Es: "Este prospecto no tiene correo en Zenvia Sales, y 7Targets lo necesita para escribirle.",
		Pt: "Este contato não tem e-mail no Zenvia Sales, e a 7Targets precisa de um para escrever para ele.",
	},
	"forward.email.using": {
		En: "7Targets will write to %s.",
		Es: "7Targets le escribirá a %s.",
		Pt: "A 7Targets vai escrever para %s.",
	},
	"stop.submit": {En: "Stop follow-up", Es: "Detener seguimiento", Pt: "Interromper acompanhamento"},
	"stop.help": {
		En: "Stop 7Targets' messages when you take the conversation over.",
		Es: "Detén los mensajes de 7Targets cuando tomes la conversación.",
		Pt: "Interrompa as mensagens da 7Targets quando você assumir a conversa.",
	},
	"retry.submit": {En: "Retry", Es: "Reintentar", Pt: "Tentar novamente"},

	// Notices after an action, for ButtonPage.Notice.
	"notice.forward": {
		En: "Done. 7Targets will have the prospect in a few seconds.",
		Es: "Listo. 7Targets recibirá el prospecto en unos segundos.",
		Pt: "Pronto. A 7Targets vai receber o contato em alguns segundos.",
	},
	"notice.stop": {
		En: "Done. The follow-up will stop in a few seconds.",
		Es: "Listo. El seguimiento se detendrá en unos segundos.",
		Pt: "Pronto. O acompanhamento será interrompido em alguns segundos.",
	},
	"notice.retry": {
		En: "Done. The prospect is being sent again.",
		Es: "Listo. El prospecto se está enviando de nuevo.",
		Pt: "Pronto. O contato está sendo enviado novamente.",
	},

	// Error pages and form errors, for ErrorPage and ButtonPage.ErrorMessage / FieldErrors.
	"error.status":          {En: "Error %d", Es: "Error %d", Pt: "Erro %d"},
	"error.signature.title": {En: "This link is not valid", Es: "Este enlace no es válido", Pt: "Este link não é válido"},
	"error.signature.message": {
		En: "This link is not valid or has been changed. Open it again from Zenvia Sales.",
		Es: "Este enlace no es válido o fue modificado. Vuelve a abrirlo desde Zenvia Sales.",
		Pt: "Este link não é válido ou foi alterado. Abra-o novamente pelo Zenvia Sales.",
	},
	"error.group.title": {En: "App not installed", Es: "App no instalada", Pt: "App não instalado"},
	"error.group.message": {
		En: "This group has no 7Targets App installed.",
		Es: "Este grupo no tiene instalada la App de 7Targets.",
		Pt: "Este grupo não tem o App da 7Targets instalado.",
	},
	"error.disabled.title": {En: "App disabled", Es: "App desactivada", Pt: "App desativado"},
	"error.disabled.message": {
		En: "The 7Targets App is disabled for this group. An administrator can enable it in Zenvia Sales.",
		Es: "La App de 7Targets está desactivada para este grupo. Un administrador puede activarla en Zenvia Sales.",
		Pt: "O App da 7Targets está desativado para este grupo. Um administrador pode ativá-lo no Zenvia Sales.",
	},
	"error.expired.title": {En: "This action has expired", Es: "Esta acción venció", Pt: "Esta ação expirou"},
	"error.expired.message": {
		En: "This action has expired. Reopen the dialog and try again.",
		Es: "Esta acción venció. Vuelve a abrir el diálogo e inténtalo de nuevo.",
		Pt: "Esta ação expirou. Abra a janela novamente e tente outra vez.",
	},
	"error.notfound.title": {En: "Page not found", Es: "Página no encontrada", Pt: "Página não encontrada"},
	"error.notfound.message": {
		En: "This page does not exist. Open it again from Zenvia Sales.",
		Es: "Esta página no existe. Vuelve a abrirla desde Zenvia Sales.",
		Pt: "Esta página não existe. Abra-a novamente pelo Zenvia Sales.",
	},
	"error.prospect.title": {En: "No prospect given", Es: "Falta el prospecto", Pt: "Contato não informado"},
	"error.prospect.message": {
		En: "This dialog was opened without a prospect. Open it again from a conversation in Zenvia Sales.",
		Es: "Este diálogo se abrió sin un prospecto. Vuelve a abrirlo desde una conversación en Zenvia Sales.",
		Pt: "Esta janela foi aberta sem um contato. Abra-a novamente a partir de uma conversa no Zenvia Sales.",
	},
	"error.action.title": {En: "This action has expired", Es: "Esta acción venció", Pt: "Esta ação expirou"},
	"error.action.message": {
		En: "This action has expired or was already used. Reopen the dialog and try again.",
		Es: "Esta acción venció o ya se usó. Vuelve a abrir el diálogo e inténtalo de nuevo.",
		Pt: "Esta ação expirou ou já foi usada. Abra a janela novamente e tente outra vez.",
	},
	"action.done.title": {En: "Done", Es: "Listo", Pt: "Pronto"},
	"action.done.message": {
		En: "Your request was received and will reach 7Targets in a few seconds. You can close this window.",
		Es: "Recibimos tu pedido; llegará a 7Targets en unos segundos. Ya puedes cerrar esta ventana.",
		Pt: "Recebemos sua solicitação, que chegará à 7Targets em alguns segundos. Você já pode fechar esta janela.",
	},
	"report.error.load": {
		En: "The data of this period could not be read.",
		Es: "No se pudieron leer los datos de este período.",
		Pt: "Não foi possível ler os dados deste período.",
	},
	"button.error.load": {
		En: "What the App knows about this prospect could not be read, so this may be incomplete.",
		Es: "No se pudo leer lo que la App sabe de este prospecto, así que la información puede estar incompleta.",
		Pt: "Não foi possível ler o que o App sabe sobre este contato, então as informações podem estar incompletas.",
	},
	"button.error.email": {
		En: "Enter a valid email address, such as name@example.com.",
		Es: "Escribe un correo electrónico válido, como nombre@ejemplo.com.",
		Pt: "Digite um e-mail válido, como nome@exemplo.com.",
	},
	"button.error.email.required": {
		En: "Enter the prospect's email address.",
		Es: "Escribe el correo electrónico del prospecto.",
		Pt: "Digite o e-mail do contato.",
	},
	"button.error.assistant": {
		En: "Choose one of the listed assistants.",
		Es: "Elige uno de los asistentes de la lista.",
		Pt: "Escolha um dos assistentes da lista.",
	},
	"button.error.schedule": {
		En: "The sequence name is too long: 200 characters at most.",
		Es: "El nombre de la secuencia es demasiado largo: 200 caracteres como máximo.",
		Pt: "O nome da sequência é longo demais: no máximo 200 caracteres.",
	},
	"error.generic.title": {En: "Something went wrong", Es: "Algo salió mal", Pt: "Algo deu errado"},
	"error.generic.message": {
		En: "Please try again in a few minutes. If it keeps happening, contact support.",
		Es: "Vuelve a intentarlo en unos minutos. Si el problema continúa, contacta con soporte.",
		Pt: "Tente novamente em alguns minutos. Se o problema continuar, fale com o suporte.",
	},
	"error.email.required": {
		En: "Enter the prospect's email address.",
		Es: "Escribe el correo electrónico del prospecto.",
		Pt: "Digite o e-mail do contato.",
	},
	"error.email.invalid": {
		En: "Enter a valid email address, such as name@example.com.",
		Es: "Escribe un correo electrónico válido, como nombre@ejemplo.com.",
		Pt: "Digite um e-mail válido, como nome@exemplo.com.",
	},
	"error.assistant.invalid": {
		En: "Choose one of the listed assistants.",
		Es: "Elige uno de los asistentes de la lista.",
		Pt: "Escolha um dos assistentes da lista.",
	},

	// 7Targets lead states. Others are shown as 7Targets names them.
	"state.cold":    {En: "Cold", Es: "Frío", Pt: "Frio"},
	"state.warm":    {En: "Warm", Es: "Tibio", Pt: "Morno"},
	"state.hot":     {En: "Hot", Es: "Caliente", Pt: "Quente"},
	"state.stopped": {En: "Stopped", Es: "Detenido", Pt: "Interrompido"},

	// Reasons the forwarding worker records (see ReasonText).
	"reason.superseded": {
		En: "Superseded by a newer update of the prospect",
		Es: "Reemplazado por una actualización más reciente del prospecto",
		Pt: "Substituído por uma atualização mais recente do contato",
	},
	"reason.claimedFirst": {
		En: "An agent took the prospect over before it was forwarded",
		Es: "Un agente tomó el prospecto antes de que se reenviara",
		Pt: "Um agente assumiu o contato antes que ele fosse encaminhado",
	},
	"reason.autoForwardOff": {
		En: "Automatic forwarding is off",
		Es: "El reenvío automático está desactivado",
		Pt: "O encaminhamento automático está desativado",
	},
	"reason.noEmail": {
		En: "The prospect has no email address",
		Es: "El prospecto no tiene correo electrónico",
		Pt: "O contato não tem e-mail",
	},
	"reason.noChange": {
		En: "Nothing changed for 7Targets",
		Es: "No hubo cambios para 7Targets",
		Pt: "Nada mudou para a 7Targets",
	},
	"reason.notForwarded": {
		En: "The prospect was never forwarded",
		Es: "El prospecto nunca se reenvió",
		Pt: "O contato nunca foi encaminhado",
	},
	"reason.alreadyStopped": {
		En: "The follow-up was already stopped",
		Es: "El seguimiento ya estaba detenido",
		Pt: "O acompanhamento já estava interrompido",
	},
	"reason.stopOff": {
		En: "Stopping the follow-up when an agent takes the prospect over is off",
		Es: "Detener el seguimiento cuando un agente toma el prospecto está desactivado",
		Pt: "Interromper o acompanhamento quando um agente assume o contato está desativado",
	},
	"reason.instanceGone": {
		En: "The App is no longer installed",
		Es: "La App ya no está instalada",
		Pt: "O App não está mais instalado",
	},
	"reason.instanceDisabled": {
		En: "The App is disabled",
		Es: "La App está desactivada",
		Pt: "O App está desativado",
	},
	"reason.instanceUninstalled": {
		En: "The App was uninstalled",
		Es: "La App fue desinstalada",
		Pt: "O App foi desinstalado",
	},
	"reason.instanceState": {
		En: "The App is %s",
		Es: "La App está en estado «%s»",
		Pt: "O App está no estado “%s”",
	},
	"reason.settingsIncomplete": {
		En: "The App's 7Targets settings are incomplete",
		Es: "La configuración de 7Targets de la App está incompleta",
		Pt: "As configurações da 7Targets no App estão incompletas",
	},
	"reason.prospectGone": {
		En: "The prospect no longer exists in Zenvia Sales",
		Es: "El prospecto ya no existe en Zenvia Sales",
		Pt: "O contato não existe mais no Zenvia Sales",
	},
	"reason.excluded": {
		En: "The prospect's email is on the list of addresses never forwarded to",
		Es: "El email del prospecto está en la lista de direcciones a las que nunca se reenvía",
		Pt: "O e-mail do contato está na lista de endereços para os quais nunca se encaminha",
	},
	"reason.lookupFailed": {
		En: "Could not look the prospect up in Zenvia Sales: %s",
		Es: "No se pudo consultar el prospecto en Zenvia Sales: %s",
		Pt: "Não foi possível consultar o contato no Zenvia Sales: %s",
	},
	"reason.refused": {
		En: "7Targets refused it (HTTP %s): %s",
		Es: "7Targets lo rechazó (HTTP %s): %s",
		Pt: "A 7Targets recusou (HTTP %s): %s",
	},
	// The report's backfill card (the backfillDays setting).
	"report.backfill.title": {En: "Waiting prospects sent to 7Targets", Es: "Prospectos en espera enviados a 7Targets", Pt: "Contatos em espera enviados à 7Targets"},
	"report.backfill.window": {
		En: "Unclaimed prospects created in the last %d days",
		Es: "Prospectos sin reclamar creados en los últimos %d días",
		Pt: "Contatos não reivindicados criados nos últimos %d dias",
	},
	"backfill.running":  {En: "In progress", Es: "En curso", Pt: "Em andamento"},
	"backfill.done":     {En: "Done", Es: "Terminado", Pt: "Concluído"},
	"backfill.stopped":  {En: "Stopped", Es: "Detenido", Pt: "Interrompido"},
	"backfill.failed":   {En: "Failed", Es: "Falló", Pt: "Falhou"},
	"backfill.found":    {En: "Found", Es: "Encontrados", Pt: "Encontrados"},
	"backfill.inFlight": {En: "%d on their way", Es: "%d en camino", Pt: "%d a caminho"},
	"backfill.started":  {En: "Started %s", Es: "Iniciado el %s", Pt: "Iniciado em %s"},
	"backfill.finished": {En: "ended %s", Es: "terminado el %s", Pt: "encerrado em %s"},
	// The report's Chat-Tonic card (chatTonicCodename): the bot's records imported into Sales.
	"report.chattonic.title": {En: "Chat-Tonic bot leads", Es: "Leads del bot de Chat-Tonic", Pt: "Leads do bot da Chat-Tonic"},
	"report.chattonic.desc": {
		En: "Bot records imported into Zenvia Sales as leads. The prospects Sales makes of them are forwarded to 7Targets like any other, and counted there.",
		Es: "Registros del bot importados en Zenvia Sales como leads. Los prospectos que Sales crea con ellos se reenvían a 7Targets como cualquier otro y se cuentan allí.",
		Pt: "Registros do bot importados no Zenvia Sales como leads. Os contatos que o Sales cria a partir deles são encaminhados para a 7Targets como qualquer outro e contados lá.",
	},
	"chattonic.ok":      {En: "Reading fine", Es: "Lectura correcta", Pt: "Leitura normal"},
	"chattonic.failing": {En: "Failing", Es: "Con error", Pt: "Com falha"},
	"chattonic.failing.text": {
		En: "Chat-Tonic refuses the codename or the token: nothing is imported until they are corrected in the App's settings.",
		Es: "Chat-Tonic rechaza el codename o el token: no se importa nada hasta que se corrijan en la configuración de la App.",
		Pt: "A Chat-Tonic recusa o codename ou o token: nada é importado até que sejam corrigidos nas configurações do App.",
	},
	"chattonic.retrying": {En: "Retrying", Es: "Reintentando", Pt: "Tentando novamente"},
	"chattonic.retrying.text": {
		En: "The last read failed; the App tries again shortly.",
		Es: "La última lectura falló; la App vuelve a intentarlo en breve.",
		Pt: "A última leitura falhou; o App tenta novamente em breve.",
	},
	"chattonic.notRead": {En: "Not read yet", Es: "Aún sin leer", Pt: "Ainda não lido"},
	"chattonic.notRead.text": {
		En: "The first read of the bot's records is due shortly.",
		Es: "La primera lectura de los registros del bot se hará en breve.",
		Pt: "A primeira leitura dos registros do bot será feita em breve.",
	},
	"chattonic.off": {En: "Off", Es: "Desactivado", Pt: "Desativado"},
	"chattonic.off.text": {
		En: "Chat-Tonic is not configured, or the App is disabled: no record is read.",
		Es: "Chat-Tonic no está configurado o la App está desactivada: no se lee ningún registro.",
		Pt: "A Chat-Tonic não está configurada ou o App está desativado: nenhum registro é lido.",
	},
	"chattonic.lastGoodRead":   {En: "Last good read", Es: "Última lectura correcta", Pt: "Última leitura bem-sucedida"},
	"chattonic.never":          {En: "Never", Es: "Nunca", Pt: "Nunca"},
	"chattonic.lastError":      {En: "Last error", Es: "Último error", Pt: "Último erro"},
	"chattonic.noError":        {En: "None", Es: "Ninguno", Pt: "Nenhum"},
	"chattonic.groups":         {En: "Funnel groups", Es: "Grupos de embudo", Pt: "Grupos de funil"},
	"chattonic.groups.notRead": {En: "Known after the first read", Es: "Se conocerán tras la primera lectura", Pt: "Conhecidos após a primeira leitura"},
	"chattonic.groups.none": {
		En: "No funnel group matches the selection",
		Es: "Ningún grupo de embudo coincide con la selección",
		Pt: "Nenhum grupo de funil corresponde à seleção",
	},
	"chattonic.read":     {En: "Read", Es: "Leídos", Pt: "Lidos"},
	"chattonic.imported": {En: "Imported", Es: "Importados", Pt: "Importados"},
	"chattonic.daily":    {En: "Records per day", Es: "Registros por día", Pt: "Registros por dia"},
	"reason.listFailed": {
		En: "Zenvia Sales refused the prospects list (HTTP %s): %s",
		Es: "Zenvia Sales rechazó la lista de prospectos (HTTP %s): %s",
		Pt: "O Zenvia Sales recusou a lista de contatos (HTTP %s): %s",
	},
	"reason.noContact": {En: "No contact data", Es: "Sin datos de contacto", Pt: "Sem dados de contato"},
	"reason.importRefused": {
		En: "Zenvia Sales refused the lead (HTTP %s): %s",
		Es: "Zenvia Sales rechazó el lead (HTTP %s): %s",
		Pt: "O Zenvia Sales recusou o lead (HTTP %s): %s",
	},
	"state.forwarded": {En: "Forwarded", Es: "Reenviados", Pt: "Encaminhados"},
	"reason.gaveUp": {
		En: "Gave up after %s: %s",
		Es: "Se abandonó tras %s: %s",
		Pt: "Abandonado após %s: %s",
	},
	"duration.day":     {En: "1 day", Es: "1 día", Pt: "1 dia"},
	"duration.days":    {En: "%d days", Es: "%d días", Pt: "%d dias"},
	"duration.hour":    {En: "1 hour", Es: "1 hora", Pt: "1 hora"},
	"duration.hours":   {En: "%d hours", Es: "%d horas", Pt: "%d horas"},
	"duration.minutes": {En: "%d minutes", Es: "%d minutos", Pt: "%d minutos"},

	// Locale data: dates and numbers.
	"date.day":     {En: "%[2]s %[1]d", Es: "%[1]d %[2]s", Pt: "%[1]d %[2]s"},
	"date.full":    {En: "%[2]s %[1]d, %[3]d", Es: "%[1]d %[2]s %[3]d", Pt: "%[1]d %[2]s %[3]d"},
	"date.time":    {En: "%s, %s", Es: "%s, %s", Pt: "%s, %s"},
	"num.group":    {En: ",", Es: ".", Pt: "."},
	"num.decimal":  {En: ".", Es: ",", Pt: ","},
	"num.percent":  {En: "%s%%", Es: "%s %%", Pt: "%s%%"},
	"num.thousand": {En: "%sk", Es: "%s mil", Pt: "%s mil"},
	"num.million":  {En: "%sM", Es: "%s M", Pt: "%s mi"},
	"num.billion":  {En: "%sB", Es: "%s mil M", Pt: "%s bi"},
	"month.1":      {En: "Jan", Es: "ene", Pt: "jan"},
	"month.2":      {En: "Feb", Es: "feb", Pt: "fev"},
	"month.3":      {En: "Mar", Es: "mar", Pt: "mar"},
	"month.4":      {En: "Apr", Es: "abr", Pt: "abr"},
	"month.5":      {En: "May", Es: "may", Pt: "mai"},
	"month.6":      {En: "Jun", Es: "jun", Pt: "jun"},
	"month.7":      {En: "Jul", Es: "jul", Pt: "jul"},
	"month.8":      {En: "Aug", Es: "ago", Pt: "ago"},
	"month.9":      {En: "Sep", Es: "sept", Pt: "set"},
	"month.10":     {En: "Oct", Es: "oct", Pt: "out"},
	"month.11":     {En: "Nov", Es: "nov", Pt: "nov"},
	"month.12":     {En: "Dec", Es: "dic", Pt: "dez"},
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
	s := m.En
	switch pageLang(lang) {
	case Spanish:
		s = m.Es
	case Portuguese:
		s = m.Pt
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
	case zen7.ReasonListFailed:
		return T(lang, "reason.listFailed", strconv.Itoa(r.Status), r.Detail)
	case zen7.ReasonImportRefused:
		return T(lang, "reason.importRefused", strconv.Itoa(r.Status), r.Detail)
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
